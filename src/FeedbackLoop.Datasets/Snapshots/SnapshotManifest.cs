using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Snapshots;

/// <summary>One dataset file a snapshot holds: its name in the dataset folder, rows, size and SHA-256.</summary>
public sealed record ManifestFile(string Name, long Rows, long Bytes, string Sha256);

/// <summary>One dataset kind in a snapshot: its files, rows as extracted, and rows that train once review is applied.</summary>
public sealed record ManifestDataset(long Rows, long RowsAfterReview, IReadOnlyList<ManifestFile> Files);

/// <summary>One pair rule as the pipeline set it when the snapshot was taken.</summary>
public sealed record RuleInForce(bool Enabled, double Weight);

/// <summary>The pipeline file in force and the app's extraction rules in it (known only when the snapshot was given one).</summary>
public sealed record PipelineInForce(string Source, string Sha256, IReadOnlyDictionary<string, RuleInForce> Rules, bool LabelsEnabled);

/// <summary>
/// The review a snapshot applied: how many log lines it read, how many items each action covers, and the decision in force
/// for every item the snapshot holds (copied, so the snapshot answers "reviewed how" on its own).
/// </summary>
public sealed record ManifestReview(int LogEntries, IReadOnlyDictionary<string, int> Actions, IReadOnlyList<ReviewDecision> Applied);

/// <summary>
/// An immutable snapshot of an app's preference pairs and labels with the review decisions in force, stored as
/// <c>&lt;data&gt;/datasets/&lt;app_id&gt;/snapshots/&lt;id&gt;.json</c>. The dataset files are named, not copied: they never
/// change once renamed into place, and their hashes prove it when the snapshot is read.
/// </summary>
public sealed record SnapshotManifest(
    int Format,
    string SnapshotId,
    string AppId,
    string? Name,
    DateTimeOffset CreatedAt,
    string? Parent,
    ManifestDataset PreferencePairs,
    ManifestDataset FeedbackLabels,
    PipelineInForce? Pipeline,
    ManifestReview Review)
{
    /// <summary>The manifest format this version writes and reads.</summary>
    public const int CurrentFormat = 1;

    /// <summary>The review state of each item the snapshot applied a decision to.</summary>
    public IReadOnlyDictionary<string, ReviewState> States() =>
        Review.Applied.ToDictionary(d => d.Item, d => d.After, StringComparer.Ordinal);
}
