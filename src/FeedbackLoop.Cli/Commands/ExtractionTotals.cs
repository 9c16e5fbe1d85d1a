using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.Cli.Commands;

/// <summary>What the extraction loops of one <c>extract</c> process did together (<c>--consumers</c>), for its summary once they stopped.</summary>
internal sealed record ExtractionTotals
{
    public long RecordsRead { get; init; }
    public long EventsProcessed { get; init; }
    public long DuplicateEvents { get; init; }
    public long DeadLettered { get; init; }
    public long ReplayedRecords { get; init; }
    public long PairsWritten { get; init; }
    public long LabelsWritten { get; init; }
    public long WindowsWritten { get; init; }
    public long RowsAlreadyPresent { get; init; }
    public int OpenSessions { get; init; }
    public long CheckpointsWritten { get; init; }
    public long CheckpointsLoaded { get; init; }
    public IReadOnlyList<KeyValuePair<string, long>> CheckpointsDiscarded { get; init; } = [];
    public long RecordsLost { get; init; }
    public IReadOnlyList<KeyValuePair<int, long>> RecordsLostByPartition { get; init; } = [];
    public long UnregisteredEvents { get; init; }
    public long UnregisteredUnnamed { get; init; }
    public IReadOnlyList<string> UnregisteredApps { get; init; } = [];

    /// <summary>
    /// Sums the loops. A partition moves between loops only at a rebalance, so per-partition counts add up; an unregistered
    /// app met by two loops is named once.
    /// </summary>
    public static ExtractionTotals Of(IReadOnlyList<ExtractionLoop> loops) => new()
    {
        RecordsRead = loops.Sum(l => l.Progress.RecordsRead),
        EventsProcessed = loops.Sum(l => l.Counters.EventsProcessed),
        DuplicateEvents = loops.Sum(l => l.Counters.DuplicateEvents),
        DeadLettered = loops.Sum(l => l.Progress.DeadLettered),
        ReplayedRecords = loops.Sum(l => l.Progress.ReplayedRecords),
        PairsWritten = loops.Sum(l => l.Progress.PairsWritten),
        LabelsWritten = loops.Sum(l => l.Progress.LabelsWritten),
        WindowsWritten = loops.Sum(l => l.Progress.WindowsWritten),
        RowsAlreadyPresent = loops.Sum(l => l.Progress.RowsAlreadyPresent),
        OpenSessions = loops.Sum(l => l.OpenSessions),
        CheckpointsWritten = loops.Sum(l => l.Progress.CheckpointsWritten),
        CheckpointsLoaded = loops.Sum(l => l.Progress.CheckpointsLoaded),
        CheckpointsDiscarded = Add(loops.SelectMany(l => l.Progress.CheckpointsDiscarded)),
        RecordsLost = loops.Sum(l => l.Progress.RecordsLost),
        RecordsLostByPartition = Add(loops.SelectMany(l => l.Progress.RecordsLostByPartition)),
        UnregisteredEvents = loops.Sum(l => l.UnregisteredApps.Events),
        UnregisteredUnnamed = loops.Sum(l => l.UnregisteredApps.Unnamed),
        UnregisteredApps = [.. loops.SelectMany(l => l.UnregisteredApps.Reported).Distinct(StringComparer.Ordinal)],
    };

    private static List<KeyValuePair<TKey, long>> Add<TKey>(IEnumerable<KeyValuePair<TKey, long>> counts) where TKey : notnull =>
        [.. counts.GroupBy(c => c.Key).OrderBy(g => g.Key).Select(g => new KeyValuePair<TKey, long>(g.Key, g.Sum(c => c.Value)))];
}
