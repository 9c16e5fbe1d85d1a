namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Where drained extraction rows go. It must make them durable before returning and must skip rows whose
/// id it already holds: the loop commits offsets only after this returns, and replays after a crash.
/// </summary>
public interface IExtractionSink
{
    /// <summary>Durably writes the rows not already present.</summary>
    Task<ExtractionWriteResult> WriteAsync(ExtractionOutput output, CancellationToken cancellationToken = default);
}

/// <summary>What one sink write did.</summary>
public sealed record ExtractionWriteResult(int PairsWritten, int LabelsWritten, int WindowsWritten, int RowsAlreadyPresent, IReadOnlyList<string> Files)
{
    /// <summary>Nothing was written.</summary>
    public static ExtractionWriteResult Empty { get; } = new(0, 0, 0, 0, []);

    /// <summary>New preference pairs per app (apps with none are absent).</summary>
    public IReadOnlyDictionary<string, int> PairsByApp { get; init; } = new Dictionary<string, int>();
}
