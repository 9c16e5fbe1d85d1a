namespace FeedbackLoop.Kafka.Status;

/// <summary>Where a consumer group stands on one partition, as <c>extract status</c> prints it.</summary>
public enum PartitionState
{
    /// <summary>Everything the partition holds was committed.</summary>
    CaughtUp,

    /// <summary>Records wait to be read: the lag.</summary>
    Lagging,

    /// <summary>The group never committed here; a new instance starts at the earliest retained record.</summary>
    NoCommit,

    /// <summary>The committed offset lies below the log start: records were deleted before the group read them.</summary>
    RecordsLost,
}

/// <summary>
/// One partition's offsets and what follows from them. Lag counts the records between where the group resumes and the
/// log end: the committed offset, or the log start when nothing was committed or the commit fell below it (the records
/// in between are gone and counted as lost instead, docs/contract/kafka.md "Records lost before they were read").
/// </summary>
/// <param name="Partition">The partition.</param>
/// <param name="Committed">The group's committed offset (the next record to read), or null when it never committed.</param>
/// <param name="LogStart">The first offset the broker still holds (low watermark).</param>
/// <param name="LogEnd">One past the last offset written (high watermark).</param>
public sealed record PartitionLag(int Partition, long? Committed, long LogStart, long LogEnd)
{
    /// <summary>Where a consumer of the group resumes.</summary>
    public long ResumesAt => Math.Min(Math.Max(Committed ?? LogStart, LogStart), LogEnd);

    /// <summary>Records still to be read.</summary>
    public long Lag => LogEnd - ResumesAt;

    /// <summary>Records deleted before the group read them (0 unless the commit is below the log start).</summary>
    public long Lost => Committed is { } committed && committed < LogStart ? LogStart - committed : 0;

    /// <summary>The one-word state.</summary>
    public PartitionState State => Lost > 0 ? PartitionState.RecordsLost
        : Committed is null ? PartitionState.NoCommit
        : Lag > 0 ? PartitionState.Lagging
        : PartitionState.CaughtUp;
}
