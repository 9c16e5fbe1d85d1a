namespace FeedbackLoop.Datasets.Export;

/// <summary>The formats a snapshot exports to (docs/REVIEW.md shows one line of each).</summary>
public static class ExportFormats
{
    /// <summary>TRL's conversational preference JSONL: <c>prompt</c>/<c>chosen</c>/<c>rejected</c> as message lists, plus <c>pair_id</c>.</summary>
    public const string Trl = "trl";

    /// <summary>
    /// The DPO JSONL OpenAI, Azure OpenAI, Fireworks and Together take: <c>input.messages</c>, <c>preferred_output</c>,
    /// <c>non_preferred_output</c>, and nothing else (their validators accept only these fields); rows are in the same order as
    /// every other format's.
    /// </summary>
    public const string OpenAi = "openai";

    /// <summary>TRL's unpaired (KTO/BCO) JSONL: <c>prompt</c>/<c>completion</c>/<c>label</c>, two rows per pair and one per label, plus <c>id</c> and <c>source</c>.</summary>
    public const string Kto = "kto";

    /// <summary>The snapshot's pairs as one Parquet file: the dataset's columns plus <c>review_action</c> and <c>original_chosen</c>.</summary>
    public const string Parquet = "parquet";

    /// <summary>The same columns as <see cref="Parquet"/> in an Arrow IPC file (Apache.Arrow's file writer).</summary>
    public const string Arrow = "arrow";

    /// <summary>Every format.</summary>
    public static IReadOnlyList<string> All { get; } = [Trl, OpenAi, Kto, Parquet, Arrow];
}
