namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Why a partition checkpoint was not used (docs/adr/0014-partition-checkpoints.md): fixed, low-cardinality text, safe as
/// a metric tag and in logs. The extractor decides the ones about a checkpoint's body; the consume loop those about its
/// file and the log it was written for.
/// </summary>
public static class CheckpointReasons
{
    /// <summary>The body ends before its state does (a write cut short, a file cut off).</summary>
    public const string Truncated = "truncated";

    /// <summary>The body does not hold a state this version can read: a wrong checksum, a bad value, bytes past its end.</summary>
    public const string Corrupt = "corrupt";

    /// <summary>The body or file was written in a format version this extractor does not know.</summary>
    public const string Version = "version";

    /// <summary>The body is larger than <see cref="ExtractionSettings.MaxCheckpointBytes"/>.</summary>
    public const string TooLarge = "too_large";

    /// <summary>The file was written for another cluster or topic (a broker reset, a topic created again).</summary>
    public const string Foreign = "foreign";

    /// <summary>The cluster did not say its id, so no checkpoint can be checked against it.</summary>
    public const string OriginUnknown = "origin_unknown";

    /// <summary>The group has a committed offset, and no checkpoint was written for it (an older version committed it, or the file was lost).</summary>
    public const string Missing = "missing";

    /// <summary>The body refers to a base of its de-duplication window that is not there (a file lost or deleted).</summary>
    public const string WindowMissing = "window_missing";

    /// <summary>Every reason, for tests and documentation.</summary>
    public static IReadOnlyList<string> All { get; } = [Truncated, Corrupt, Version, TooLarge, Foreign, OriginUnknown, Missing, WindowMissing];
}
