namespace FeedbackLoop.Kafka.Extraction;

/// <summary>A stretch of a partition the broker deleted before this data folder handled it: offsets [From, To).</summary>
/// <param name="Partition">The partition of the events topic.</param>
/// <param name="From">The first lost offset.</param>
/// <param name="To">The offset after the last lost one.</param>
public readonly record struct LostRange(int Partition, long From, long To)
{
    /// <summary>How many offsets were lost.</summary>
    public long Count => To - From;
}

/// <summary>
/// Decides whether a jump in a partition's offsets means records were deleted unread (retention, or the embedded
/// cluster's in-memory cap) rather than skipped for a harmless reason. Offsets legitimately jump over transaction
/// markers and compacted records, so a jump alone proves nothing; a jump over offsets that now lie below the
/// partition's log start does: those records existed and are gone. See docs/contract/kafka.md, "Records lost before
/// they were read".
/// </summary>
public static class RecordLoss
{
    /// <summary>
    /// The lost range, or null when nothing this data folder needed was lost.
    /// </summary>
    /// <param name="partition">The partition.</param>
    /// <param name="needFrom">The offset the loop needed next: the group's committed offset right after an assignment (0 when
    /// the group never committed), else one past the last record read.</param>
    /// <param name="handledBelow">The progress mark: every offset below it was already handled by this data folder, so
    /// losing it now costs at most the state of sessions that were open then, not their rows.</param>
    /// <param name="got">The offset the broker handed out (a record's, or the end of the partition).</param>
    /// <param name="logStart">The partition's first retained offset, if known.</param>
    public static LostRange? Find(int partition, long needFrom, long handledBelow, long got, long? logStart)
    {
        var from = Math.Max(Math.Max(needFrom, handledBelow), 0);
        if (got <= from || logStart is not { } start || start <= from) return null;
        var to = Math.Min(got, start);
        return new LostRange(partition, from, to);
    }
}
