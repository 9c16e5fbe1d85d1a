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

    /// <summary>
    /// The W3C <c>traceparent</c> of the commit that made these rows durable, for the messages that announce
    /// them (<c>DatasetCommitted</c>). A sink leaves it null; the extraction loop sets it before it reports the
    /// commit: the context of its <c>extraction.commit</c> span, or, when nothing records that span, the
    /// context of the first traced record of the batch, so the trace still reaches the next role.
    /// </summary>
    public string? TraceParent { get; init; }
}
