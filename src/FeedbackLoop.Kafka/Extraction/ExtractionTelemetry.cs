namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The names the extractor publishes its telemetry under, for OpenTelemetry's <c>AddMeter</c> and
/// <c>AddSource</c> (see docs/OBSERVABILITY.md for every instrument and the span).
/// </summary>
public static class ExtractionTelemetry
{
    /// <summary>The meter with the extractor's counters and gauges.</summary>
    public const string MeterName = "FeedbackLoop.Extraction";

    /// <summary>The activity source of the extractor's spans.</summary>
    public const string ActivitySourceName = "FeedbackLoop.Extraction";

    /// <summary>The span of one durable commit: rows written, fsynced and renamed, dead letters acknowledged, offsets committed.</summary>
    public const string CommitActivityName = "extraction.commit";

    /// <summary>
    /// Most links a commit span carries to the traced records of its batch besides its parent. A batch can
    /// hold a quarter of a million records; past this the rest are counted, not linked, so a span stays small.
    /// </summary>
    public const int MaxCommitLinks = 32;
}
