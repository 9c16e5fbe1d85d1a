using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using Microsoft.Extensions.Logging;
using Record = Confluent.Kafka.ConsumeResult<System.ReadOnlyMemory<byte>?, System.ReadOnlyMemory<byte>?>;
using RecordConsumer = Confluent.Kafka.IConsumer<System.ReadOnlyMemory<byte>?, System.ReadOnlyMemory<byte>?>;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The extractors' consume loop: one consumer in the group, records validated, invalid ones dead-lettered
/// with the original bytes and a reason, valid ones fed to the <see cref="Extractor"/>. Every flush
/// writes the drained rows durably; every checkpoint (ADR 0014) also writes each partition's state, waits for
/// the dead letters to be acknowledged, and only then commits offsets past the last record handled, so a
/// restart loads the state instead of re-reading back to the oldest open session.
/// While it runs it publishes the <c>FeedbackLoop.Extraction</c> meter, and each commit is an
/// <c>extraction.commit</c> span that continues the traces its records carried (see <see cref="ExtractionTelemetry"/>).
/// </summary>
public sealed partial class ExtractionLoop
{
    /// <summary>Header on dead-letter records: why the record was refused.</summary>
    public const string ReasonHeader = "fl.reason";
    /// <summary>Header on dead-letter records: the field at fault.</summary>
    public const string FieldHeader = "fl.field";
    /// <summary>Header on dead-letter records: <c>topic/partition/offset</c> of the original.</summary>
    public const string SourceHeader = "fl.source";
    /// <summary>
    /// Header on dead-letter records: <c>&lt;cluster id&gt; &lt;topic id&gt;</c> of the original's log, so a restarted extractor
    /// trusts only dead letters of the log it replays when it skips sources already sent (see <see cref="DeadLetterTail"/>).
    /// </summary>
    public const string OriginHeader = "fl.origin";
    /// <summary>The reason of a record whose handling failed unexpectedly (fixed: no exception text, no user data).</summary>
    public const string InternalErrorReason = "internal error";

    private readonly ExtractionLoopOptions _options;
    private readonly IExtractionSink _sink;
    private readonly ILogger _logger;
    private readonly Extractor _extractor;
    private readonly ProgressMarks _marks;
    private readonly Dictionary<int, long> _nextOffsets = [];
    // Where the loop stands in each partition for the lag gauge: past the last record handed to it, or at
    // the end-of-partition marker. Separate from _nextOffsets, which only records handled records advance.
    private readonly Dictionary<int, long> _positions = [];
    private readonly CommitTraceBatch _batchTrace = new();
    private readonly HashSet<int> _assigned = [];
    // _assigned.Count for other threads (AssignedPartitions).
    private int _assignedCount;
    // The group has answered this member at least once, with partitions or without (more members than partitions).
    private bool _joined;
    // Whether _atEnd covers _assigned (and there is an assignment), for other threads; kept as either changes.
    private volatile bool _caughtUp;
    // Assigned partitions whose end-of-partition marker came after their last record: what --until-idle waits for.
    private readonly HashSet<int> _atEnd = [];
    // Per assigned partition, the offset the loop needs next: the committed offset right after an assignment, then one
    // past each record read. A record or end-of-partition beyond it is checked for records the broker deleted unread.
    private readonly Dictionary<int, long> _needFrom = [];
    // Per assigned partition, source offsets of the replay window whose dead letters are already in the dead-letter
    // topic (found in its tail at assignment): a replay skips them instead of sending them again.
    private readonly Dictionary<int, HashSet<long>> _alreadySent = [];
    private LogOrigin? _origin;
    // The origin header's value: empty when the cluster did not say its id (such a dead letter is never trusted as sent).
    private byte[] _originText = [];
    private static readonly TimeSpan MarksInterval = TimeSpan.FromSeconds(10);
    // How long an idle loop waits for a record before it looks at its stop request and its flush and idle timers: the
    // client cannot be woken early, so this is how long a stop (SIGTERM, or the end of a bench run) waits for a loop that
    // has read everything. 100 ms made that a tenth of a second of every measured bench run; an idle poll costs microseconds.
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(20);
    // One source for the process: spans are told apart by their traces, not by the loop that made them.
    private static readonly ActivitySource CommitSource = new(ExtractionTelemetry.ActivitySourceName, typeof(ExtractionLoop).Assembly.GetName().Version?.ToString());
    private readonly Stopwatch _sinceMarks = Stopwatch.StartNew();
    private readonly CheckpointStore _checkpoints;
    // Per partition, the offset of its last checkpoint: a partition that read nothing since is not checkpointed again.
    private readonly Dictionary<int, long> _checkpointed = [];
    private readonly Stopwatch _sinceCheckpoint = Stopwatch.StartNew();
    private long _readSinceCheckpoint;
    private long _readSinceFlush;
    // Stopwatch timestamp of the first record read since the last flush; 0 when none was.
    private long _batchFirstRead;
    private PendingWrite? _pendingWrite;
    private bool _broken;
    private string? _deliveryError;
    private readonly RecordReadAhead _readAhead;
    // Since the last record was handled or the assignment last changed: what --until-idle measures.
    private readonly Stopwatch _lastRecord = Stopwatch.StartNew();

    /// <summary>Creates the loop; nothing connects until <see cref="RunAsync"/>.</summary>
    public ExtractionLoop(ExtractionLoopOptions options, IExtractionSink sink, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CheckpointMaxRecords, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.CheckpointInterval, TimeSpan.Zero);
        options.CheckFetchSettings();
        _options = options;
        _sink = sink;
        _logger = logger;
        _extractor = new Extractor(options.Settings);
        // Keyed by topic, not group: a data folder that already dead-lettered a record must not do it again,
        // even when a new group replays the topic into it.
        _marks = new ProgressMarks(Path.Combine(options.StateDirectory, Sanitize(options.Topic)), logger);
        UnregisteredApps = new UnregisteredApps(options.MaxUnregisteredAppsReported);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReadAheadBytes, 1);
        _readAhead = new RecordReadAhead(options.ReadAheadRecords, options.ReadAheadBytes);
        _checkpoints = new CheckpointStore(Path.Combine(options.StateDirectory, Sanitize(options.Topic), "checkpoints"));
    }

    /// <summary>Apps whose events were extracted though no pipeline registers them (see <see cref="ExtractionLoopOptions.IsRegisteredApp"/>).</summary>
    public UnregisteredApps UnregisteredApps { get; }

    /// <summary>How many partitions the group gave this loop (as of its last assignment or revocation); safe to read from another thread.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedCount);

    /// <summary>
    /// Whether every partition the loop holds reported its end after its last record, i.e. it has read all there was;
    /// false without an assignment. Safe to read from another thread.
    /// </summary>
    public bool IsCaughtUp => _caughtUp;

    /// <summary>Totals so far; safe to read from another thread.</summary>
    public ExtractionProgress Progress { get; } = new();

    /// <summary>The extractor's own counters (read them after the loop stopped).</summary>
    public ExtractionCounters Counters => _extractor.Counters;

    /// <summary>Sessions that have neither ended nor timed out yet: their labels and unpaired rows are still to come.</summary>
    public int OpenSessions => _extractor.OpenSessions;

    /// <summary>The most bytes one read-ahead batch held so far (<see cref="ExtractionLoopOptions.ReadAheadBytes"/> bounds it).</summary>
    internal long ReadAheadLargestBatchBytes => _readAhead.LargestBatchBytes;

    /// <summary>
    /// Consumes until cancelled (or, with <see cref="ExtractionLoopOptions.UntilIdle"/>, until idle), then
    /// writes and commits what was processed. Open sessions stay uncommitted and are rebuilt next time.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        // The loop's spans start from its records, never from whatever span was current where RunAsync was called.
        Activity.Current = null;
        using var metrics = new ExtractionMetrics(Progress, () => _extractor.OpenSessions, () => _extractor.Counters.PairBudgetHits, _options.MeterFactory,
            _extractor.Counters, () => _extractor.SessionStateBytes, _options.Consumer);
        metrics.ObserveUnregisteredApps(UnregisteredApps);
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin,
            ClientId = ClientName("feedbackloop-extractor"),
            // End-of-partition markers tell the extractor a partition is caught up (engagement watermark).
            EnablePartitionEof = true,
            SessionTimeoutMs = (int)_options.ConsumerSessionTimeout.TotalMilliseconds,
        };
        _options.ApplyFetchSettings(consumerConfig);
        _options.KafkaProperties.ApplyTo(consumerConfig);
        var producerConfig = new ProducerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            ClientId = ClientName("feedbackloop-extractor-dlq"),
        };
        _options.KafkaProperties.ApplyTo(producerConfig);

        using var producer = new ProducerBuilder<byte[]?, byte[]?>(producerConfig)
            .SetLogHandler((_, m) => LogClient(m))
            .Build();
        using var consumer = new ConsumerBuilder<ReadOnlyMemory<byte>?, ReadOnlyMemory<byte>?>(consumerConfig)
            .SetKeyDeserializer(_readAhead.Blocks)
            .SetValueDeserializer(_readAhead.Blocks)
            .SetLogHandler((_, m) => LogClient(m))
            .SetPartitionsAssignedHandler(OnAssigned)
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(c, producer, partitions))
            .SetPartitionsLostHandler((c, partitions) => OnLost(c, producer, partitions))
            .Build();

        var origin = LogOrigin.Describe(_options.BootstrapServers, _options.Topic, TimeSpan.FromSeconds(10), _options.KafkaProperties);
        if (origin is null) LogOriginUnknown(_logger);
        _marks.Bind(origin);
        _origin = origin;
        if (origin is not null) _originText = DeadLetterTail.OriginText(origin);
        _options.BeforeSubscribe?.Invoke();
        consumer.Subscribe(_options.Topic);
        var lastFlush = Stopwatch.StartNew();
        var sawAssignment = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Record? result;
                ParsedValue parsed;
                try
                {
                    result = _readAhead.Next(consumer, PollTimeout, out parsed);
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    LogConsumeError(_logger, LogText.Escape(ex.Error.Reason));
                    continue;
                }

                if (result is not null) HandleItem(consumer, producer, result, parsed);
                if (!sawAssignment && _joined)
                {
                    // Idle time counts from the moment there is something to read, not from start-up.
                    sawAssignment = true;
                    _lastRecord.Restart();
                }

                if (_pendingWrite is { Write.IsCompleted: true }) CompletePendingWrite(consumer, producer);
                if (lastFlush.Elapsed >= _options.FlushInterval || _readSinceFlush >= _options.MaxEventsPerFlush || _readSinceCheckpoint >= _options.CheckpointMaxRecords)
                {
                    // Sampled here, before a flush that may wait for the previous write, so a stalled write
                    // leaves the lag as it stood when the loop stopped reading.
                    SampleLag(consumer);
                    Flush(consumer, producer);
                    lastFlush.Restart();
                }

                if (_options.UntilIdle is { } idle && sawAssignment)
                {
                    var verdict = IdleStop.Decide(_lastRecord.Elapsed, idle, _atEnd.IsSupersetOf(_assigned));
                    if (verdict == IdleVerdict.Stop)
                    {
                        LogIdle(_logger, idle.TotalSeconds);
                        break;
                    }
                    if (verdict == IdleVerdict.StopNotAtEnd)
                    {
                        LogIdleNotAtEnd(_logger, _lastRecord.Elapsed.TotalSeconds, string.Join(',', _assigned.Except(_atEnd).Order()));
                        break;
                    }
                }
            }
            Flush(consumer, producer, final: true);
        }
        catch
        {
            // Whatever escaped (out of memory, a fault outside one record's handling) may have left the state half
            // applied: the close below runs the revoke handler, which must neither write nor commit it. A restart
            // re-reads from the last commit.
            _broken = true;
            throw;
        }
        finally
        {
            // Records read ahead but not handed out stay uncommitted, like those the client fetched and never returned;
            // the revoke that closing runs must not apply them after the loop stopped.
            _readAhead.Discard();
            consumer.Close();
        }
    }

    /// <summary>One record or end-of-partition marker, in the order the consumer returned it.</summary>
    private void HandleItem(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, Record result, ParsedValue parsed)
    {
        if (result.IsPartitionEOF)
        {
            CheckForLoss(consumer, result.Partition.Value, result.Offset.Value, next: result.Offset.Value);
            _extractor.MarkCaughtUp(result.Partition.Value);
            _positions[result.Partition.Value] = result.Offset.Value;
            _atEnd.Add(result.Partition.Value);
            NoteCaughtUp();
        }
        else if (result.Message is not null)
        {
            if (_atEnd.Remove(result.Partition.Value)) _caughtUp = false;
            CheckForLoss(consumer, result.Partition.Value, result.Offset.Value, next: result.Offset.Value + 1);
            Handle(result, parsed, producer);
            _lastRecord.Restart();
        }
    }

    private void Handle(Record result, ParsedValue parsed, IProducer<byte[]?, byte[]?> producer)
    {
        Progress.RecordRead();
        _readSinceFlush++;
        _readSinceCheckpoint++;
        if (_batchFirstRead == 0)
        {
            _batchFirstRead = Stopwatch.GetTimestamp();
            PublishOldestUncommitted();
        }
        var partition = result.Partition.Value;
        var offset = result.Offset.Value;
        _positions[partition] = offset + 1;
        var replay = offset < _marks.Get(partition);
        if (replay) Progress.RecordReplayed();
        // Every record of the batch, valid or not, is part of the commit that makes the batch durable.
        if (_batchTrace.Offer(result.Message.Headers) == CommitTraceBatch.Outcome.Invalid) Progress.RecordInvalidTraceParent();

        EventRejection? rejection;
        try
        {
            rejection = Apply(result, parsed, partition, offset);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
        {
            // Defence in depth: a bug that one record triggers must not stop the loop for every app on the
            // partition (and again after each restart). The record is dead-lettered like an invalid one; the log
            // names the exception's type only, since messages can quote the record. Running out of memory is the
            // process's condition, not the record's: dead-lettering would send every record read meanwhile to the
            // dead-letter topic as an internal error and commit past it, so it stops the loop instead (see Run).
            LogInternalError(_logger, Source(result), ex.GetType().FullName ?? ex.GetType().Name);
            rejection = new EventRejection("$", InternalErrorReason) { Kind = EventRejectionKind.InternalError };
        }

        // A replayed record was dead-lettered before the last stop; sending it again would double it. Below the mark this
        // data folder knows it; above it, the dead-letter topic's tail (read at assignment) says so.
        if (rejection is not null && !replay)
        {
            if (_alreadySent.TryGetValue(partition, out var sent) && sent.Remove(offset)) Progress.RecordDeadLetterAlreadySent();
            else DeadLetter(producer, result, rejection);
        }
        // Only now is the record handled (applied, or its dead letter queued, which the commit waits for): a
        // failure above leaves the next offset where it was, so no flush commits past this record.
        _nextOffsets[partition] = offset + 1;
    }

    /// <summary>Validates one record and applies it; the rejection when it is dead-lettered instead.</summary>
    private EventRejection? Apply(Record result, ParsedValue parsed, int partition, long offset)
    {
        if (result.Message.Value is not { Length: > 0 } value)
            return new EventRejection("$", "empty record") { Kind = EventRejectionKind.Empty };
        // Parsed ahead on another thread (RecordReadAhead), or here when it was not (or the parse threw there).
        var evt = parsed.Event;
        var rejection = parsed.Rejection;
        if (!parsed.IsParsed) _ = EventJson.TryParse(value.Span, out evt, out rejection);
        if (evt is null) return rejection;
        if (result.Message.Key is not { } key || !KeyMatches(key.Span, evt.SessionId))
        {
            return new EventRejection("key", "the Kafka message key must equal the event's session_id (it keeps a session on one partition)")
            {
                Kind = EventRejectionKind.KeyMismatch,
            };
        }
        var recordTime = RecordTime(result);
        var reference = EventTimeCheck.Reference(recordTime, _options.TimeProvider.GetUtcNow());
        if (EventTimeCheck.Check(evt.OccurredAt, reference, _options.Settings) is { } outOfRange) return outOfRange;
        if (_options.IsRegisteredApp is { } registered && !registered(evt.AppId) && UnregisteredApps.Record(evt.AppId))
        {
            // Once per app id: the id passed the app-id rule (no control characters), and it is escaped all the same.
            LogUnregisteredApp(_logger, LogText.Escape(evt.AppId), LogText.Hash(evt.AppId));
        }

        // The record time goes to the extractor only when the record has one (bounded by the clock like the reference):
        // it bounds how long a quiet app's sessions stay open, which the extractor's own clock must not decide.
        if (_extractor.Process(partition, offset, evt, recordTime is null ? null : reference) == ProcessOutcome.Processed) Progress.RecordProcessed();
        else Progress.RecordDuplicate();
        return null;
    }

    /// <summary>
    /// The record's own timestamp, if it has one. The event-time check (issue 10, finding 1) judges against it where it
    /// is plausible (see <see cref="EventTimeCheck.Reference"/>), so a replay of the topic dead-letters exactly the
    /// records the first run did; the extractor's clock only bounds that reference.
    /// </summary>
    private static DateTimeOffset? RecordTime(Record result) =>
        result.Message.Timestamp.Type == TimestampType.NotAvailable
            ? null
            : new DateTimeOffset(result.Message.Timestamp.UtcDateTime, TimeSpan.Zero);

    // The topic comes from the options: the consumer does not copy it into each result (ApplyFetchSettings).
    private string Source(Record result) =>
        string.Create(CultureInfo.InvariantCulture, $"{_options.Topic}/{result.Partition.Value}/{result.Offset.Value}");

    private static bool KeyMatches(ReadOnlySpan<byte> key, string sessionId)
    {
        if (key.Length != Encoding.UTF8.GetByteCount(sessionId)) return false;
        Span<byte> buffer = key.Length <= 512 ? stackalloc byte[key.Length] : new byte[key.Length];
        Encoding.UTF8.GetBytes(sessionId, buffer);
        return buffer.SequenceEqual(key);
    }

    private void DeadLetter(IProducer<byte[]?, byte[]?> producer, Record result, EventRejection rejection)
    {
        Progress.RecordDeadLetter(rejection.Kind);
        var source = Source(result);
        var headers = new Headers
        {
            { ReasonHeader, Encoding.UTF8.GetBytes(rejection.Reason) },
            { FieldHeader, Encoding.UTF8.GetBytes(rejection.Field) },
            { SourceHeader, Encoding.UTF8.GetBytes(source) },
            { OriginHeader, _originText },
        };
        // The reason never quotes the record's content (EventRejection's rule); escaped all the same, as every logged value is.
        LogDeadLetter(_logger, source, LogText.Escape(rejection.Field), LogText.Escape(rejection.Reason));
        producer.Produce(
            _options.DeadLetterTopic,
            // Copied: the record's bytes live in a pooled block that is reused once the record is handled (RecordBlocks).
            new Message<byte[]?, byte[]?> { Key = result.Message.Key?.ToArray(), Value = result.Message.Value?.ToArray(), Headers = headers },
            report =>
            {
                if (report.Error.IsError) _deliveryError ??= report.Error.Reason;
            });
    }

    /// <summary>
    /// Drains the extractor and starts writing the rows in the background, so reading goes on while Parquet
    /// is written (one write in flight). The offsets committed for a write are the ones computed when its
    /// rows were drained, and they are committed only after that write is durable.
    /// </summary>
    private void Flush(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, bool final = false)
    {
        // After a failed write or dead letter nothing may be committed any more (the consumer's close still
        // runs the revoke handler): a later commit would cover rows that never became durable.
        if (_broken) return;
        _extractor.Sweep();
        var rows = _extractor.Output.TakeAll();
        var offsets = new List<TopicPartitionOffset>();
        var marks = new List<(int Partition, long Next)>();
        // Offsets are committed only with a checkpoint of the state they leave behind (ADR 0014): the commit then passes
        // open sessions, and a restart loads the checkpoint instead of re-reading back to the oldest of them. Without a
        // known origin no checkpoint could be checked on load, so the commit stays at the oldest offset the state needs.
        var due = final || _readSinceCheckpoint >= _options.CheckpointMaxRecords || _sinceCheckpoint.Elapsed >= _options.CheckpointInterval;
        var checkpoint = _origin is not null && due;
        var toCheckpoint = new List<(int Partition, long Next, long RebuildFrom)>();
        foreach (var (partition, next) in _nextOffsets)
        {
            if (!_assigned.Contains(partition)) continue;
            marks.Add((partition, next));
            var rebuildFrom = _extractor.CommittableOffset(partition, next);
            if (_origin is null) offsets.Add(new TopicPartitionOffset(_options.Topic, partition, rebuildFrom));
            else if (checkpoint && _checkpointed.GetValueOrDefault(partition, -1) != next) toCheckpoint.Add((partition, next, rebuildFrom));
        }
        if (due)
        {
            _readSinceCheckpoint = 0;
            _sinceCheckpoint.Restart();
        }

        // One write in flight: the sink and the checkpoint folder take one write at a time.
        CompletePendingWrite(consumer, producer);
        var trace = _batchTrace.Take();
        if (trace.LinksDropped > 0) Progress.RecordTraceLinksDropped(trace.LinksDropped);
        Activity? span = null;
        Task<ExtractionWriteResult> write;
        var files = new List<PartitionCheckpoint>();
        if (rows.IsEmpty && _readSinceFlush == 0 && toCheckpoint.Count == 0)
        {
            // Nothing read and nothing to write: an idle tick, not a commit worth a span.
            write = Task.FromResult(ExtractionWriteResult.Empty);
        }
        else
        {
            var outer = Activity.Current;
            span = StartCommitSpan(trace, _readSinceFlush);
            // The span is current while the writes' tasks start, so anything the sink traces nests under it;
            // the consume thread itself goes on outside it.
            var rowsWrite = rows.IsEmpty ? Task.FromResult(ExtractionWriteResult.Empty) : Task.Run(() => _sink.WriteAsync(rows));
            // While the rows are written, this thread takes the checkpoints of the state they leave behind, and they are
            // written beside the rows: both are durable before the commit, which is what makes a checkpoint count.
            files = TakeCheckpoints(toCheckpoint, offsets);
            write = files.Exists(f => f.Body is not null) ? WriteCheckpointsBesideAsync(rowsWrite, files) : rowsWrite;
            Activity.Current = outer;
        }
        _pendingWrite = new PendingWrite(write, offsets, marks, span, trace.HasParent ? trace.Parent : null, _batchFirstRead, files);
        _batchFirstRead = 0;
        _readSinceFlush = 0;
        PublishOldestUncommitted();
        // A checkpoint is committed before reading goes on, so a crash re-reads at most CheckpointMaxRecords records.
        if (final || checkpoint) CompletePendingWrite(consumer, producer, final: true);
    }

    /// <summary>
    /// The checkpoint of each partition in <paramref name="due"/>, with the offset its commit will name added to
    /// <paramref name="offsets"/>: the next record's when the checkpoint can be written, else the offset to rebuild from.
    /// </summary>
    private List<PartitionCheckpoint> TakeCheckpoints(List<(int Partition, long Next, long RebuildFrom)> due, List<TopicPartitionOffset> offsets)
    {
        var files = new List<PartitionCheckpoint>(due.Count);
        foreach (var (partition, next, rebuildFrom) in due)
        {
            if (_extractor.CheckpointPartition(partition) is { } body)
            {
                files.Add(new PartitionCheckpoint(partition, next, rebuildFrom, body, _extractor.WindowBaseOf(partition), _extractor.TakeWindowBase(partition)));
                offsets.Add(new TopicPartitionOffset(_options.Topic, partition, next));
            }
            else
            {
                // Too large to write: this partition commits where a re-read rebuilds its state, as without checkpoints.
                Progress.RecordCheckpointDiscarded(CheckpointReasons.TooLarge);
                LogCheckpointTooLarge(_logger, partition, _options.Settings.MaxCheckpointBytes, rebuildFrom);
                files.Add(new PartitionCheckpoint(partition, rebuildFrom, rebuildFrom, null, null, null));
                offsets.Add(new TopicPartitionOffset(_options.Topic, partition, rebuildFrom));
            }
            _checkpointed[partition] = next;
        }
        return files;
    }

    /// <summary>
    /// The checkpoint files, written while the rows are: the write ends once both are durable, and fails if either did.
    /// A checkpoint is only ever loaded for the offset the group committed (ADR 0014), and the commit waits for this whole
    /// write, so a checkpoint that reached the disk before its rows did is never used unless they did too. Written after
    /// the rows, the checkpoint files' fsyncs came on top of the flush's time: a single loop's final flush in the bench was
    /// 12 and 38 ms shorter in two benches (docs/BENCHMARKS.md, "The final flush of a run").
    /// </summary>
    private async Task<ExtractionWriteResult> WriteCheckpointsBesideAsync(Task<ExtractionWriteResult> rows, List<PartitionCheckpoint> files)
    {
        var checkpoints = Task.Run(() => _checkpoints.WriteAll(_origin!, files.Where(f => f.Body is not null).Select(f => (f.Partition, f.Offset, f.RebuildFrom, f.Body.GetValueOrDefault(), f.NewWindowBase))));
        // Both end before the result is known, whichever failed: no checkpoint file is still being written when a failed
        // write stops the loop. The rows' failure is the one raised, as when the files were written after them.
        await Task.WhenAll(rows, checkpoints).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var written = await rows.ConfigureAwait(false);
        await checkpoints.ConfigureAwait(false);
        return written;
    }

    /// <summary>
    /// One partition's checkpoint for a commit; a null body: too large, the commit is the offset to rebuild from. The body may
    /// refer to a base of the de-duplication window (<paramref name="WindowBase"/>), which is written with it when it is new.
    /// </summary>
    private sealed record PartitionCheckpoint(int Partition, long Offset, long RebuildFrom, ReadOnlyMemory<byte>? Body, string? WindowBase, WindowBaseFile? NewWindowBase);

    /// <summary>
    /// Starts the span of one commit: a child of the first traced record's context, linked to the other
    /// distinct ones, so a trace that began in an app shows the commit that made its feedback durable.
    /// Null when nobody listens to the source.
    /// </summary>
    private Activity? StartCommitSpan(CommitTrace trace, long records)
    {
        if (!CommitSource.HasListeners()) return null;
        var span = CommitSource.StartActivity(ExtractionTelemetry.CommitActivityName, ActivityKind.Consumer, trace.Parent, links: trace.Links);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("messaging.system", "kafka");
            span.SetTag("messaging.operation.type", "process");
            span.SetTag("messaging.destination.name", _options.Topic);
            span.SetTag("messaging.consumer.group.name", _options.GroupId);
            span.SetTag("messaging.batch.message_count", records);
            span.SetTag("feedbackloop.extraction.traced_records", trace.Traced);
            if (trace.LinksDropped > 0) span.SetTag("feedbackloop.extraction.links_dropped", trace.LinksDropped);
        }
        return span;
    }

    /// <summary>Waits for the write in flight, makes sure dead letters landed, then commits: the order is the guarantee.</summary>
    private void CompletePendingWrite(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, bool final = false)
    {
        if (_pendingWrite is not { } pending) return;
        _pendingWrite = null;
        ExtractionWriteResult written;
        try
        {
            written = Commit(consumer, producer, pending);
        }
        catch (Exception ex)
        {
            EndCommitSpan(pending.Span, ex);
            throw;
        }
        finally
        {
            PublishOldestUncommitted();
        }
        EndCommitSpan(pending.Span, null, written);

        if (written.PairsWritten + written.LabelsWritten + written.WindowsWritten > 0 && _options.Committed is { } committed)
        {
            // The commit span's context, or the batch's own parent when nothing records spans, so the next
            // role (a DatasetCommitted handler) continues the same trace either way.
            var traceParent = pending.Span is { } span ? TraceParent.FormatOrNull(span.Context)
                : pending.Parent is { } parent ? TraceParent.FormatOrNull(parent) : null;
            committed(written with { TraceParent = traceParent });
        }
        // Progress marks only shorten the replay window the dead-letter topic's tail is read for (ADR 0012), so
        // they are written every few seconds rather than at every commit (one fsync per partition is costly); a
        // crash in between leaves the dead letters since the last mark to that read.
        if (final || _sinceMarks.Elapsed >= MarksInterval)
        {
            _marks.SetAll(pending.Marks.Where(m => _assigned.Contains(m.Partition)));
            _sinceMarks.Restart();
        }
    }

    /// <summary>The write in flight and what its commit needs; <paramref name="FirstRead"/> is when its batch's first record was read (0: none).</summary>
    private sealed record PendingWrite(Task<ExtractionWriteResult> Write, List<TopicPartitionOffset> Offsets, List<(int Partition, long Next)> Marks,
        Activity? Span, ActivityContext? Parent, long FirstRead, List<PartitionCheckpoint> Checkpoints);

    /// <summary>The write, the dead letters and the offsets of one batch, in the order that is the guarantee.</summary>
    private ExtractionWriteResult Commit(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, PendingWrite pending)
    {
        ExtractionWriteResult written;
        try
        {
            // A failed write throws here and stops the loop before anything is committed; a restart redoes it.
            written = pending.Write.GetAwaiter().GetResult();
        }
        catch
        {
            _broken = true;
            throw;
        }
        Progress.RecordWrite(written);

        producer.Flush(TimeSpan.FromSeconds(30));
        if (_deliveryError is { } error || producer.Flush(TimeSpan.Zero) > 0)
        {
            // Committing now could lose a dead letter: stop and let the next run redo this stretch.
            _broken = true;
            throw new KafkaException(new Error(ErrorCode.Local_MsgTimedOut, "dead-letter delivery failed: " + (_deliveryError ?? "timed out")));
        }

        var offsets = pending.Offsets.Where(o => _assigned.Contains(o.Partition.Value)).ToList();
        if (offsets.Count == 0) return written;
        try
        {
            consumer.Commit(offsets);
            Progress.RecordCommitted();
            // Only now are older checkpoints of these partitions useless: until the commit, the group's offset was theirs.
            var committed = offsets.Select(o => o.Partition.Value).ToHashSet();
            var kept = 0;
            foreach (var file in pending.Checkpoints.Where(c => committed.Contains(c.Partition)))
            {
                _checkpoints.Prune(file.Partition, file.Body is null ? null : file.Offset, file.WindowBase);
                if (file.Body is not null) kept++;
            }
            Progress.RecordCheckpointsWritten(kept);
        }
        catch (KafkaException ex) when (IsGroupChange(ex.Error.Code))
        {
            // Another instance joined or left the group while this batch was written. The rows are durable; only the
            // commit is refused. Whoever owns each partition next (this instance or another) re-reads from the last
            // committed offset and the dataset store skips rows already written, so skipping this commit loses and
            // doubles nothing, where stopping would take the instance down at every rebalance.
            Progress.RecordCommitRefusedByRebalance();
            LogCommitRefused(_logger, ex.Error.Code.ToString());
        }
        return written;
    }

    private static void EndCommitSpan(Activity? span, Exception? error, ExtractionWriteResult? written = null)
    {
        if (span is null) return;
        if (span.IsAllDataRequested && written is not null)
        {
            span.SetTag("feedbackloop.extraction.pairs_written", written.PairsWritten);
            span.SetTag("feedbackloop.extraction.labels_written", written.LabelsWritten);
            span.SetTag("feedbackloop.extraction.windows_written", written.WindowsWritten);
            span.SetTag("feedbackloop.extraction.rows_already_present", written.RowsAlreadyPresent);
        }
        if (error is not null)
        {
            // The type only: messages of I/O and client errors can name paths and hosts, which spans need not carry.
            span.SetTag("error.type", error.GetType().FullName);
            span.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        }
        // Stop would make the span's parent current on this thread; the consume thread runs outside spans.
        var outer = Activity.Current;
        span.Stop();
        Activity.Current = outer;
    }

    /// <summary>The oldest read-but-uncommitted record's read time, for the age gauge: the batch in flight, else the batch being read.</summary>
    private void PublishOldestUncommitted() =>
        Progress.SetOldestUncommitted(_pendingWrite is { FirstRead: > 0 } pending ? pending.FirstRead : _batchFirstRead);

    /// <summary>
    /// Samples consumer lag for the gauge: the high watermark librdkafka last saw in a fetch response (a
    /// cached value, no broker round trip) minus the loop's position. A partition without both yet is left out.
    /// </summary>
    private void SampleLag(RecordConsumer consumer)
    {
        var lag = new List<PartitionLag>(_assigned.Count);
        foreach (var partition in _assigned)
        {
            if (!_positions.TryGetValue(partition, out var position)) continue;
            WatermarkOffsets marks;
            try
            {
                marks = consumer.GetWatermarkOffsets(new TopicPartition(_options.Topic, partition));
            }
            catch (KafkaException)
            {
                continue;
            }
            if (marks.High.IsSpecial) continue;
            lag.Add(new PartitionLag(partition, Math.Max(0, marks.High.Value - position)));
        }
        lag.Sort((a, b) => a.Partition.CompareTo(b.Partition));
        Progress.SetConsumerLag([.. lag]);
    }

    /// <summary>
    /// Reports records the broker deleted before this data folder handled them (see <see cref="RecordLoss"/>): counted
    /// per partition, logged as an error with the offset range, exposed as a metric, and a reason for <c>extract
    /// --until-idle</c> to exit non-zero. <paramref name="next"/> is what the loop needs after <paramref name="got"/>:
    /// one past a record, or the end-of-partition offset itself.
    /// </summary>
    private void CheckForLoss(RecordConsumer consumer, int partition, long got, long next)
    {
        if (_needFrom.TryGetValue(partition, out var needFrom) && got > needFrom
            && RecordLoss.Find(partition, needFrom, _marks.Get(partition), got, LogStart(consumer, partition)) is { } lost)
        {
            Progress.RecordLost(lost);
            LogRecordsLost(_logger, lost.Count, partition, lost.From, lost.To - 1);
        }
        _needFrom[partition] = next;
    }

    /// <summary>
    /// The partition's first retained offset, asked of the broker. Only jumps in offsets ask (rare: a transaction marker,
    /// compaction, or loss), and librdkafka's cached value from fetches can be stale, which would hide a loss.
    /// </summary>
    private long? LogStart(RecordConsumer consumer, int partition)
    {
        try
        {
            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(_options.Topic, partition), TimeSpan.FromSeconds(5));
            return marks.Low.IsSpecial ? null : marks.Low.Value;
        }
        catch (KafkaException ex)
        {
            LogLogStartUnknown(_logger, partition, ex.Error.Code.ToString());
            return null;
        }
    }

    private List<TopicPartitionOffset> OnAssigned(RecordConsumer consumer, List<TopicPartition> partitions)
    {
        _joined = true;
        Progress.RecordAssignment();
        // --until-idle counts quiet time from the last change of assignment too: a member between a revocation and its
        // next assignment holds nothing, which must not read as "everything read" (a rebalance can outlast the idle time).
        _lastRecord.Restart();
        foreach (var tp in partitions)
        {
            _assigned.Add(tp.Partition.Value);
            Volatile.Write(ref _assignedCount, _assigned.Count);
            _caughtUp = false;
            _marks.Forget(tp.Partition.Value);
            _extractor.TrackPartition(tp.Partition.Value);
        }
        NoteCommittedOffsets(consumer, partitions);
        var starts = RestoreCheckpoints(partitions);
        FindDeadLettersAlreadySent(partitions);
        if (_logger.IsEnabled(LogLevel.Information)) LogAssigned(_logger, string.Join(',', partitions.Select(p => p.Partition.Value)));
        return starts;
    }

    /// <summary>
    /// Restores each new partition's state from the checkpoint of its committed offset (ADR 0014), so reading resumes there.
    /// A checkpoint that cannot be used is discarded with its reason (counted, logged) and the state is rebuilt by re-reading
    /// from the oldest offset it needed, which its header still names; without one, from the committed offset.
    /// </summary>
    private List<TopicPartitionOffset> RestoreCheckpoints(List<TopicPartition> partitions)
    {
        var starts = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var tp in partitions)
        {
            var partition = tp.Partition.Value;
            _checkpointed.Remove(partition);
            // No commit yet (or it could not be read): the partition is read from the start, nothing to restore.
            if (!_needFrom.TryGetValue(partition, out var committed) || committed == 0)
            {
                starts.Add(new TopicPartitionOffset(tp, Offset.Unset));
                continue;
            }
            var found = _checkpoints.Find(_origin, partition, committed);
            // Without an origin the loop commits where the state is rebuilt from, as before checkpoints: no file is expected.
            if (_origin is null && found.Reason == CheckpointReasons.Missing)
            {
                starts.Add(new TopicPartitionOffset(tp, Offset.Unset));
                continue;
            }
            var reason = found.Reason ?? _extractor.RestorePartition(partition, found.Body.Span, hash => _checkpoints.ReadWindowBase(partition, hash));
            if (reason is null)
            {
                Progress.RecordCheckpointLoaded();
                _checkpointed[partition] = committed;
                LogCheckpointLoaded(_logger, partition, committed, found.Body.Length);
                starts.Add(new TopicPartitionOffset(tp, Offset.Unset));
                continue;
            }
            Progress.RecordCheckpointDiscarded(reason);
            if (found.RebuildFrom is { } from && from < committed)
            {
                LogCheckpointDiscardedRebuild(_logger, partition, committed, reason, from);
                _needFrom[partition] = from;
                starts.Add(new TopicPartitionOffset(tp, new Offset(from)));
            }
            else
            {
                LogCheckpointDiscarded(_logger, partition, committed, reason);
                starts.Add(new TopicPartitionOffset(tp, Offset.Unset));
            }
        }
        return starts;
    }

    /// <summary>Where the group stands in each new partition: the first offset it needs (0 when it never committed).</summary>
    private void NoteCommittedOffsets(RecordConsumer consumer, List<TopicPartition> partitions)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                foreach (var committed in consumer.Committed(partitions, TimeSpan.FromSeconds(10)))
                    _needFrom[committed.Partition.Value] = committed.Offset.IsSpecial ? 0 : committed.Offset.Value;
                return;
            }
            catch (KafkaException ex) when (_origin is null || attempt < 3)
            {
                // Without the committed offsets a loss at the start of these partitions cannot be told from a normal
                // start; later gaps are still checked.
                LogCommittedUnknown(_logger, ex.Error.Code.ToString());
                if (_origin is null) return;
            }
            catch (KafkaException ex)
            {
                // Offsets committed with checkpoints pass open sessions: reading from them without the checkpoint that
                // goes with them would lose those sessions' earlier records. Stopping lets a restart try again.
                _broken = true;
                throw new KafkaException(new Error(ex.Error.Code, "the group's committed offsets could not be read, so no checkpoint can be matched to them"));
            }
        }
    }

    /// <summary>
    /// Reads the dead-letter topic's tail for the new partitions' replay windows (from the higher of the committed offset and
    /// the progress mark), so dead letters sent before a crash are not sent again (ADR 0012). Bounded by
    /// <see cref="ExtractionLoopOptions.DeadLetterScanLimit"/>; a hit is counted and logged.
    /// </summary>
    private void FindDeadLettersAlreadySent(List<TopicPartition> partitions)
    {
        var windows = new Dictionary<int, long>(partitions.Count);
        foreach (var tp in partitions)
        {
            var partition = tp.Partition.Value;
            windows[partition] = Math.Max(_needFrom.GetValueOrDefault(partition), _marks.Get(partition));
        }
        var tail = new DeadLetterTail(_options.BootstrapServers, _options.KafkaProperties, _options.DeadLetterTopic, _options.Topic, _options.DeadLetterScanLimit, _logger);
        var found = tail.Find(windows, _origin);
        if (found is null) return;
        Progress.RecordDeadLetterTailRead(found.RecordsRead, found.LimitHit);
        foreach (var (partition, sent) in found.Sent) _alreadySent[partition] = sent;
        LogDeadLetterTail(_logger, found.RecordsRead, found.Sent.Values.Sum(s => s.Count));
    }

    private void OnRevoked(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, List<TopicPartitionOffset> partitions)
    {
        // Hand over cleanly: what was read is handled, written and committed before another member takes it.
        HandleReadAhead(consumer, producer);
        Flush(consumer, producer, final: true);
        foreach (var tp in partitions) Release(tp.Partition.Value);
    }

    private void OnLost(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer, List<TopicPartitionOffset> partitions)
    {
        // Lost, not revoked: another member may already own them; our uncommitted work is redone there.
        HandleReadAhead(consumer, producer);
        foreach (var tp in partitions) Release(tp.Partition.Value);
    }

    /// <summary>
    /// A rebalance callback runs inside the consumer, possibly while records are read ahead: they are handled first, as
    /// they would have been had they been handed out one at a time.
    /// </summary>
    private void HandleReadAhead(RecordConsumer consumer, IProducer<byte[]?, byte[]?> producer)
    {
        if (_broken) return;
        foreach (var (result, parsed) in _readAhead.TakeAll()) HandleItem(consumer, producer, result, parsed);
    }

    private void Release(int partition)
    {
        _lastRecord.Restart();
        _assigned.Remove(partition);
        Volatile.Write(ref _assignedCount, _assigned.Count);
        _atEnd.Remove(partition);
        NoteCaughtUp();
        _nextOffsets.Remove(partition);
        _positions.Remove(partition);
        _needFrom.Remove(partition);
        _alreadySent.Remove(partition);
        _checkpointed.Remove(partition);
        _extractor.DropPartition(partition);
        _marks.Forget(partition);
    }

    private void LogClient(LogMessage message)
    {
        if (message.Level <= SyslogLevel.Warning) LogClientMessage(_logger, LogText.Escape(message.Facility), LogText.Escape(message.Message));
    }

    private void NoteCaughtUp() => _caughtUp = _assigned.Count > 0 && _atEnd.IsSupersetOf(_assigned);

    private string ClientName(string name) => _options.Consumer is { } consumer ? string.Create(CultureInfo.InvariantCulture, $"{name}-{consumer}") : name;

    private static string Sanitize(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead-lettered {Source}: {Field}: {Reason}")]
    private static partial void LogDeadLetter(ILogger logger, string source, string field, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Events of app {AppId} ({AppHash}), which the pipeline does not list under apps:, are extracted, but no run starts for it until it is registered (reported once)")]
    private static partial void LogUnregisteredApp(ILogger logger, string appId, string appHash);

    [LoggerMessage(Level = LogLevel.Error, Message = "Internal error handling {Source} ({ExceptionType}); the record is dead-lettered and the loop goes on")]
    private static partial void LogInternalError(ILogger logger, string source, string exceptionType);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} records of partition {Partition} (offsets {From} to {Last}) were deleted by the broker "
        + "(retention, or the embedded cluster's in-memory cap) before this extractor read them; they are missing from the datasets")]
    private static partial void LogRecordsLost(ILogger logger, long count, int partition, long from, long last);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offsets of partition {Partition} jumped, and its log start could not be read ({Code}); whether records were lost is unknown")]
    private static partial void LogLogStartUnknown(ILogger logger, int partition, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster did not say its id; progress marks are not trusted this run, so a replay may dead-letter a record again")]
    private static partial void LogOriginUnknown(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the group's committed offsets ({Code}); records deleted before this assignment cannot be detected")]
    private static partial void LogCommittedUnknown(ILogger logger, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consume error: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Read {Records} records of the dead-letter topic's tail; {Sent} dead letters of the replay window were already sent and will not be sent again")]
    private static partial void LogDeadLetterTail(ILogger logger, long records, int sent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Partition {Partition} resumes at its committed offset {Offset} with the state of its checkpoint ({Bytes} bytes)")]
    private static partial void LogCheckpointLoaded(ILogger logger, int partition, long offset, int bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of partition {Partition} at committed offset {Offset} discarded ({Reason}); its state is rebuilt by re-reading from offset {From}")]
    private static partial void LogCheckpointDiscardedRebuild(ILogger logger, int partition, long offset, string reason, long from);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of partition {Partition} at committed offset {Offset} discarded ({Reason}); its state is rebuilt from that offset, "
        + "so sessions open there lose what came before it (expected once after an upgrade from a version without checkpoints)")]
    private static partial void LogCheckpointDiscarded(ILogger logger, int partition, long offset, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "State of partition {Partition} is over MaxCheckpointBytes ({Limit}); no checkpoint written, the commit stays at offset {From}, where a re-read rebuilds it")]
    private static partial void LogCheckpointTooLarge(ILogger logger, int partition, long limit, long from);

    [LoggerMessage(Level = LogLevel.Information, Message = "Assigned partitions {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "No new events for {Seconds}s; committing and stopping")]
    private static partial void LogIdle(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No new events for {Seconds:0}s but partitions {Partitions} never reported their end (broker not answering fetches?); committing and stopping")]
    private static partial void LogIdleNotAtEnd(ILogger logger, double seconds, string partitions);

    /// <summary>The commit errors that only say the group is being rebalanced (retriable by the next commit).</summary>
    internal static bool IsGroupChange(ErrorCode code) =>
        code is ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration or ErrorCode.UnknownMemberId;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offsets not committed, the group is rebalancing ({Code}); the rows are written and the next owner of each partition skips them")]
    private static partial void LogCommitRefused(ILogger logger, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client {Facility}: {Message}")]
    private static partial void LogClientMessage(ILogger logger, string facility, string message);
}
