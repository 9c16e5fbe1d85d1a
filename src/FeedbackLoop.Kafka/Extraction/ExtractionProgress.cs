using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// Running totals and current gauges of one extractor process; read it for progress, at exit, or through
/// the <c>FeedbackLoop.Extraction</c> meter. The consume loop writes it; any thread may read it.
/// </summary>
public sealed class ExtractionProgress
{
    private static readonly int ReasonCount = Enum.GetValues<EventRejectionKind>().Length;

    private readonly long[] _deadLetteredByKind = new long[ReasonCount];
    private long _recordsRead;
    private long _eventsProcessed;
    private long _duplicateEvents;
    private long _deadLettered;
    private long _pairsWritten;
    private long _labelsWritten;
    private long _windowsWritten;
    private long _rowsAlreadyPresent;
    private long _replayedRecords;
    private long _flushes;
    private long _firstRecordTimestamp;
    private long _lastCommitTimestamp;
    private long _invalidTraceParents;
    private long _traceLinksDropped;
    private long _oldestUncommittedTimestamp;
    private PartitionLag[] _lag = [];
    private readonly Lock _lostLock = new();
    private readonly Dictionary<int, long> _lostByPartition = [];
    private long _recordsLost;
    private long _deadLettersAlreadySent;
    private long _deadLetterTailRecordsRead;
    private long _deadLetterScanLimitHits;

    /// <summary>Kafka records read (valid or not).</summary>
    public long RecordsRead => Interlocked.Read(ref _recordsRead);
    /// <summary>Valid events the extractor applied (a repeated event_id is not applied again).</summary>
    public long EventsProcessed => Interlocked.Read(ref _eventsProcessed);
    /// <summary>Valid events skipped because their event_id was already applied.</summary>
    public long DuplicateEvents => Interlocked.Read(ref _duplicateEvents);
    /// <summary>Records sent to the dead-letter topic.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);
    /// <summary>Preference pairs written to Parquet.</summary>
    public long PairsWritten => Interlocked.Read(ref _pairsWritten);
    /// <summary>Labels written to Parquet.</summary>
    public long LabelsWritten => Interlocked.Read(ref _labelsWritten);
    /// <summary>Engagement windows written to Parquet.</summary>
    public long WindowsWritten => Interlocked.Read(ref _windowsWritten);
    /// <summary>Rows skipped because their id was already in the dataset (replays).</summary>
    public long RowsAlreadyPresent => Interlocked.Read(ref _rowsAlreadyPresent);
    /// <summary>Records re-read to rebuild the state of sessions still open at the last stop.</summary>
    public long ReplayedRecords => Interlocked.Read(ref _replayedRecords);
    /// <summary>Completed write-and-commit cycles.</summary>
    public long Flushes => Interlocked.Read(ref _flushes);
    /// <summary>Records whose <c>traceparent</c> header was present but malformed (ignored).</summary>
    public long InvalidTraceParents => Interlocked.Read(ref _invalidTraceParents);
    /// <summary>Traced records a commit span could not link because it already had the maximum of links.</summary>
    public long TraceLinksDropped => Interlocked.Read(ref _traceLinksDropped);

    /// <summary>Records the broker deleted before this data folder handled them (retention, the embedded cluster's cap).</summary>
    public long RecordsLost => Interlocked.Read(ref _recordsLost);

    /// <summary><see cref="RecordsLost"/> per partition, ordered by partition.</summary>
    public IReadOnlyList<KeyValuePair<int, long>> RecordsLostByPartition
    {
        get
        {
            lock (_lostLock) return [.. _lostByPartition.OrderBy(p => p.Key)];
        }
    }

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the first record was read; 0 before.</summary>
    public long FirstRecordTimestamp => Interlocked.Read(ref _firstRecordTimestamp);

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the group last accepted this loop's offsets; 0 before.</summary>
    public long LastCommitTimestamp => Interlocked.Read(ref _lastCommitTimestamp);

    internal void RecordCommitted() => Interlocked.Exchange(ref _lastCommitTimestamp, Stopwatch.GetTimestamp());

    /// <summary>Records dead-lettered for faults of <paramref name="kind"/>.</summary>
    public long DeadLetteredFor(EventRejectionKind kind) =>
        (uint)kind < (uint)ReasonCount ? Interlocked.Read(ref _deadLetteredByKind[(int)kind]) : 0;

    /// <summary>
    /// Per assigned partition, records in the log beyond the loop's position (high watermark − position), as
    /// the consume loop last sampled them (at every flush).
    /// </summary>
    public IReadOnlyList<PartitionLag> ConsumerLag => Volatile.Read(ref _lag);

    /// <summary>
    /// How long the oldest record that was read but whose write-and-commit has not completed has waited; zero
    /// when every record read has been through a completed commit.
    /// </summary>
    public TimeSpan OldestUncommittedAge
    {
        get
        {
            var since = Interlocked.Read(ref _oldestUncommittedTimestamp);
            return since > 0 ? Stopwatch.GetElapsedTime(since) : TimeSpan.Zero;
        }
    }

    internal void RecordRead()
    {
        if (Interlocked.Increment(ref _recordsRead) == 1) Interlocked.Exchange(ref _firstRecordTimestamp, Stopwatch.GetTimestamp());
    }
    internal void RecordProcessed() => Interlocked.Increment(ref _eventsProcessed);
    internal void RecordDuplicate() => Interlocked.Increment(ref _duplicateEvents);
    internal void RecordReplayed() => Interlocked.Increment(ref _replayedRecords);

    internal void RecordDeadLetter(EventRejectionKind kind)
    {
        Interlocked.Increment(ref _deadLettered);
        if ((uint)kind < (uint)ReasonCount) Interlocked.Increment(ref _deadLetteredByKind[(int)kind]);
    }

    internal void RecordLost(LostRange lost)
    {
        Interlocked.Add(ref _recordsLost, lost.Count);
        lock (_lostLock) _lostByPartition[lost.Partition] = _lostByPartition.GetValueOrDefault(lost.Partition) + lost.Count;
    }

    internal void RecordInvalidTraceParent() => Interlocked.Increment(ref _invalidTraceParents);
    internal void RecordTraceLinksDropped(int count) => Interlocked.Add(ref _traceLinksDropped, count);

    internal void RecordWrite(ExtractionWriteResult result)
    {
        Interlocked.Add(ref _pairsWritten, result.PairsWritten);
        Interlocked.Add(ref _labelsWritten, result.LabelsWritten);
        Interlocked.Add(ref _windowsWritten, result.WindowsWritten);
        Interlocked.Add(ref _rowsAlreadyPresent, result.RowsAlreadyPresent);
        Interlocked.Increment(ref _flushes);
    }

    internal void SetConsumerLag(PartitionLag[] lag) => Volatile.Write(ref _lag, lag);

    /// <summary>The timestamp of the oldest record read and not yet through a completed commit; 0 for none.</summary>
    internal void SetOldestUncommitted(long timestamp) => Interlocked.Exchange(ref _oldestUncommittedTimestamp, timestamp);
    /// <summary>Invalid records of a replay not dead-lettered again because their dead letter was found in the dead-letter topic's tail.</summary>
    public long DeadLettersAlreadySent => Interlocked.Read(ref _deadLettersAlreadySent);

    /// <summary>Records of the dead-letter topic read at partition assignments to find dead letters already sent.</summary>
    public long DeadLetterTailRecordsRead => Interlocked.Read(ref _deadLetterTailRecordsRead);

    /// <summary>Assignments whose read of the dead-letter topic's tail stopped at <see cref="ExtractionLoopOptions.DeadLetterScanLimit"/>.</summary>
    public long DeadLetterScanLimitHits => Interlocked.Read(ref _deadLetterScanLimitHits);

    internal void RecordDeadLetterAlreadySent() => Interlocked.Increment(ref _deadLettersAlreadySent);

    internal void RecordDeadLetterTailRead(long records, bool limitHit)
    {
        Interlocked.Add(ref _deadLetterTailRecordsRead, records);
        if (limitHit) Interlocked.Increment(ref _deadLetterScanLimitHits);
    }

    private long _commitsRefusedByRebalance;
    private long _assignments;

    /// <summary>
    /// Assignments the group gave this loop since it started: one while the group never changed, more after each rebalance
    /// that gave it partitions again.
    /// </summary>
    public long Assignments => Interlocked.Read(ref _assignments);

    internal void RecordAssignment() => Interlocked.Increment(ref _assignments);

    /// <summary>Commits the group refused because it was rebalancing (another instance joined or left); their rows were written.</summary>
    public long CommitsRefusedByRebalance => Interlocked.Read(ref _commitsRefusedByRebalance);

    internal void RecordCommitRefusedByRebalance() => Interlocked.Increment(ref _commitsRefusedByRebalance);

    private long _checkpointsWritten;
    private long _checkpointsLoaded;
    private readonly Lock _discardedLock = new();
    private readonly Dictionary<string, long> _checkpointsDiscarded = new(StringComparer.Ordinal);

    /// <summary>Partition checkpoints written and committed (ADR 0014).</summary>
    public long CheckpointsWritten => Interlocked.Read(ref _checkpointsWritten);

    /// <summary>Partition checkpoints restored at assignments, so the partition resumed at its committed offset with its state.</summary>
    public long CheckpointsLoaded => Interlocked.Read(ref _checkpointsLoaded);

    /// <summary>Checkpoints not used, by reason (<see cref="CheckpointReasons"/>): not loaded at an assignment, or not written (too large).</summary>
    public IReadOnlyList<KeyValuePair<string, long>> CheckpointsDiscarded
    {
        get
        {
            lock (_discardedLock) return [.. _checkpointsDiscarded.OrderBy(d => d.Key, StringComparer.Ordinal)];
        }
    }

    internal void RecordCheckpointsWritten(int count) => Interlocked.Add(ref _checkpointsWritten, count);
    internal void RecordCheckpointLoaded() => Interlocked.Increment(ref _checkpointsLoaded);

    internal void RecordCheckpointDiscarded(string reason)
    {
        lock (_discardedLock) _checkpointsDiscarded[reason] = _checkpointsDiscarded.GetValueOrDefault(reason) + 1;
    }
}

/// <summary>One partition's consumer lag.</summary>
/// <param name="Partition">The partition of the events topic.</param>
/// <param name="Lag">Records in the log beyond the loop's position.</param>
public readonly record struct PartitionLag(int Partition, long Lag);
