namespace FeedbackLoop.Contracts;

/// <summary>The v1 event type names, exactly as they appear in the envelope's <c>type</c> field.</summary>
public static class EventTypes
{
    /// <summary>A model output was shown to a user.</summary>
    public const string GenerationShown = "generation.shown";
    /// <summary>Thumb up or down on a generation; the latest by <c>occurred_at</c> wins.</summary>
    public const string FeedbackThumb = "feedback.thumb";
    /// <summary>A 1–5 rating of a generation.</summary>
    public const string FeedbackRating = "feedback.rating";
    /// <summary>The user asked for another output in place of a generation.</summary>
    public const string GenerationRegenerated = "generation.regenerated";
    /// <summary>The user edited a generation's output.</summary>
    public const string GenerationEdited = "generation.edited";
    /// <summary>The user copied a generation's output.</summary>
    public const string GenerationCopied = "generation.copied";
    /// <summary>A suggestion (e.g. a code completion) was accepted.</summary>
    public const string GenerationAccepted = "generation.accepted";
    /// <summary>A suggestion was dismissed.</summary>
    public const string GenerationRejected = "generation.rejected";
    /// <summary>The user chose one generation of a side-by-side candidate set.</summary>
    public const string ComparisonChosen = "comparison.chosen";
    /// <summary>How long a generation was visible.</summary>
    public const string GenerationDwell = "generation.dwell";
    /// <summary>The session is over; its state can be resolved.</summary>
    public const string SessionEnded = "session.ended";

    /// <summary>Every v1 type, in the order docs/contract/events.md lists them.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        GenerationShown, FeedbackThumb, FeedbackRating, GenerationRegenerated, GenerationEdited,
        GenerationCopied, GenerationAccepted, GenerationRejected, ComparisonChosen, GenerationDwell, SessionEnded,
    ];
}

/// <summary>Size limits of the wire contract.</summary>
public static class EventLimits
{
    /// <summary>One serialized event, in bytes (32 KiB).</summary>
    public const int MaxEventBytes = 32 * 1024;
    /// <summary>One batch of events, in bytes (500 KiB).</summary>
    public const int MaxBatchBytes = 500 * 1024;
    /// <summary>The only data schema version this contract defines.</summary>
    public const int Version = 1;
}
