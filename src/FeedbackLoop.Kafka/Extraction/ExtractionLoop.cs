using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The extractors' consume loop: one consumer in the group, records validated, invalid ones dead-lettered
/// with the original bytes and a reason, valid ones fed to the <see cref="Extractor"/>. Every flush
/// writes the drained rows durably, waits for the dead letters to be acknowledged, and only then commits
/// offsets: the lowest offset any still-open session or window needs, so a restart rebuilds them.
/// </summary>
public sealed partial class ExtractionLoop
{
    /// <summary>Header on dead-letter records: why the record was refused.</summary>
    public const string ReasonHeader = "fl.reason";
    /// <summary>Header on dead-letter records: the field at fault.</summary>
    public const string FieldHeader = "fl.field";
    /// <summary>Header on dead-letter records: <c>topic/partition/offset</c> of the original.</summary>
    public const string SourceHeader = "fl.source";

    private readonly ExtractionLoopOptions _options;
    private readonly IExtractionSink _sink;
    private readonly ILogger _logger;
    private readonly Extractor _extractor;
    private readonly ProgressMarks _marks;
    private readonly Dictionary<int, long> _nextOffsets = [];
    private readonly HashSet<int> _assigned = [];
    private static readonly TimeSpan MarksInterval = TimeSpan.FromSeconds(10);
    private readonly Stopwatch _sinceMarks = Stopwatch.StartNew();
    private long _readSinceFlush;
    private PendingWrite? _pendingWrite;
    private bool _broken;
    private string? _deliveryError;

    /// <summary>Creates the loop; nothing connects until <see cref="RunAsync"/>.</summary>
    public ExtractionLoop(ExtractionLoopOptions options, IExtractionSink sink, ILogger logger)
    {
        _options = options;
        _sink = sink;
        _logger = logger;
        _extractor = new Extractor(options.Settings);
        // Keyed by topic, not group: a data folder that already dead-lettered a record must not do it again,
        // even when a new group replays the topic into it.
        _marks = new ProgressMarks(Path.Combine(options.StateDirectory, Sanitize(options.Topic)));
    }

    /// <summary>Totals so far; safe to read from another thread.</summary>
    public ExtractionProgress Progress { get; } = new();

    /// <summary>The extractor's own counters (read them after the loop stopped).</summary>
    public ExtractionCounters Counters => _extractor.Counters;

    /// <summary>
    /// Consumes until cancelled (or, with <see cref="ExtractionLoopOptions.UntilIdle"/>, until idle), then
    /// writes and commits what was processed. Open sessions stay uncommitted and are rebuilt next time.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin,
            ClientId = "feedbackloop-extractor",
            // End-of-partition markers tell the extractor a partition is caught up (engagement watermark).
            EnablePartitionEof = true,
            SessionTimeoutMs = (int)_options.ConsumerSessionTimeout.TotalMilliseconds,
        };
        var producerConfig = new ProducerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            ClientId = "feedbackloop-extractor-dlq",
        };

        using var producer = new ProducerBuilder<byte[]?, byte[]?>(producerConfig)
            .SetLogHandler((_, m) => LogClient(m))
            .Build();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(consumerConfig)
            .SetLogHandler((_, m) => LogClient(m))
            .SetPartitionsAssignedHandler((c, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(c, producer, partitions))
            .SetPartitionsLostHandler((c, partitions) => OnLost(partitions))
            .Build();

        consumer.Subscribe(_options.Topic);
        var lastFlush = Stopwatch.StartNew();
        var lastRecord = Stopwatch.StartNew();
        var sawAssignment = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    LogConsumeError(_logger, ex.Error.Reason);
                    continue;
                }

                if (result is { IsPartitionEOF: true })
                {
                    _extractor.MarkCaughtUp(result.Partition.Value);
                }
                else if (result is { Message: not null })
                {
                    Handle(result, producer);
                    lastRecord.Restart();
                }
                if (!sawAssignment && _assigned.Count > 0)
                {
                    // Idle time counts from the moment there is something to read, not from start-up.
                    sawAssignment = true;
                    lastRecord.Restart();
                }

                if (_pendingWrite is { Write.IsCompleted: true }) CompletePendingWrite(consumer, producer);
                if (lastFlush.Elapsed >= _options.FlushInterval || _readSinceFlush >= _options.MaxEventsPerFlush)
                {
                    Flush(consumer, producer);
                    lastFlush.Restart();
                }

                if (_options.UntilIdle is { } idle && sawAssignment && lastRecord.Elapsed >= idle)
                {
                    LogIdle(_logger, idle.TotalSeconds);
                    break;
                }
            }
            Flush(consumer, producer, final: true);
        }
        finally
        {
            consumer.Close();
        }
    }

    private void Handle(ConsumeResult<byte[]?, byte[]?> result, IProducer<byte[]?, byte[]?> producer)
    {
        Progress.RecordRead();
        _readSinceFlush++;
        var partition = result.Partition.Value;
        var offset = result.Offset.Value;
        _nextOffsets[partition] = offset + 1;
        var replay = offset < _marks.Get(partition);
        if (replay) Progress.RecordReplayed();

        var value = result.Message.Value;
        EventRejection? rejection;
        if (value is null || value.Length == 0)
        {
            rejection = new EventRejection("$", "empty record");
        }
        else if (EventJson.TryParse(value, out var evt, out rejection))
        {
            var key = result.Message.Key;
            if (key is null || !KeyMatches(key, evt.SessionId))
            {
                rejection = new EventRejection("key", "the Kafka message key must equal the event's session_id (it keeps a session on one partition)");
            }
            else
            {
                _extractor.Process(partition, offset, evt);
                return;
            }
        }

        // A replayed record was dead-lettered before the last stop; sending it again would double it.
        if (replay) return;
        DeadLetter(producer, result, rejection!);
    }

    private static bool KeyMatches(byte[] key, string sessionId)
    {
        if (key.Length != Encoding.UTF8.GetByteCount(sessionId)) return false;
        Span<byte> buffer = key.Length <= 512 ? stackalloc byte[key.Length] : new byte[key.Length];
        Encoding.UTF8.GetBytes(sessionId, buffer);
        return buffer.SequenceEqual(key);
    }

    private void DeadLetter(IProducer<byte[]?, byte[]?> producer, ConsumeResult<byte[]?, byte[]?> result, EventRejection rejection)
    {
        Progress.RecordDeadLetter();
        var source = string.Create(CultureInfo.InvariantCulture, $"{result.Topic}/{result.Partition.Value}/{result.Offset.Value}");
        var headers = new Headers
        {
            { ReasonHeader, Encoding.UTF8.GetBytes(rejection.Reason) },
            { FieldHeader, Encoding.UTF8.GetBytes(rejection.Field) },
            { SourceHeader, Encoding.UTF8.GetBytes(source) },
        };
        // The reason never quotes the record's content, so logging it leaks no user data.
        LogDeadLetter(_logger, source, rejection.Field, rejection.Reason);
        producer.Produce(
            _options.DeadLetterTopic,
            new Message<byte[]?, byte[]?> { Key = result.Message.Key, Value = result.Message.Value, Headers = headers },
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
    private void Flush(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer, bool final = false)
    {
        // After a failed write or dead letter nothing may be committed any more (the consumer's close still
        // runs the revoke handler): a later commit would cover rows that never became durable.
        if (_broken) return;
        _extractor.Sweep();
        var rows = _extractor.Output.TakeAll();
        var offsets = new List<TopicPartitionOffset>();
        var marks = new List<(int Partition, long Next)>();
        foreach (var (partition, next) in _nextOffsets)
        {
            if (!_assigned.Contains(partition)) continue;
            offsets.Add(new TopicPartitionOffset(_options.Topic, partition, _extractor.CommittableOffset(partition, next)));
            marks.Add((partition, next));
        }

        CompletePendingWrite(consumer, producer);
        var write = rows.IsEmpty ? Task.FromResult(ExtractionWriteResult.Empty) : Task.Run(() => _sink.WriteAsync(rows));
        _pendingWrite = new PendingWrite(write, offsets, marks);
        if (final) CompletePendingWrite(consumer, producer, final: true);
        _readSinceFlush = 0;
    }

    /// <summary>Waits for the write in flight, makes sure dead letters landed, then commits: the order is the guarantee.</summary>
    private void CompletePendingWrite(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer, bool final = false)
    {
        if (_pendingWrite is not { } pending) return;
        _pendingWrite = null;
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
        if (offsets.Count > 0) consumer.Commit(offsets);
        if (written.PairsWritten + written.LabelsWritten + written.WindowsWritten > 0) _options.Committed?.Invoke(written);
        // Progress marks only stop a replay from re-sending dead letters, so they are written every few
        // seconds rather than at every commit (one fsync per partition is costly); a crash in between can
        // re-send a dead letter (at-least-once), never lose a row.
        if (final || _sinceMarks.Elapsed >= MarksInterval)
        {
            foreach (var (partition, next) in pending.Marks)
            {
                if (_assigned.Contains(partition)) _marks.Set(partition, next);
            }
            _sinceMarks.Restart();
        }
    }

    private sealed record PendingWrite(Task<ExtractionWriteResult> Write, List<TopicPartitionOffset> Offsets, List<(int Partition, long Next)> Marks);

    private void OnAssigned(List<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _assigned.Add(tp.Partition.Value);
            _marks.Forget(tp.Partition.Value);
            _extractor.TrackPartition(tp.Partition.Value);
        }
        if (_logger.IsEnabled(LogLevel.Information)) LogAssigned(_logger, string.Join(',', partitions.Select(p => p.Partition.Value)));
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer, List<TopicPartitionOffset> partitions)
    {
        // Hand over cleanly: what was read is written and committed before another member takes it.
        Flush(consumer, producer, final: true);
        foreach (var tp in partitions) Release(tp.Partition.Value);
    }

    private void OnLost(List<TopicPartitionOffset> partitions)
    {
        // Lost, not revoked: another member may already own them; our uncommitted work is redone there.
        foreach (var tp in partitions) Release(tp.Partition.Value);
    }

    private void Release(int partition)
    {
        _assigned.Remove(partition);
        _nextOffsets.Remove(partition);
        _extractor.DropPartition(partition);
        _marks.Forget(partition);
    }

    private void LogClient(LogMessage message)
    {
        if (message.Level <= SyslogLevel.Warning) LogClientMessage(_logger, message.Facility, message.Message);
    }

    private static string Sanitize(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead-lettered {Source}: {Field}: {Reason}")]
    private static partial void LogDeadLetter(ILogger logger, string source, string field, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consume error: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Assigned partitions {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "No new events for {Seconds}s; committing and stopping")]
    private static partial void LogIdle(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client {Facility}: {Message}")]
    private static partial void LogClientMessage(ILogger logger, string facility, string message);
}
