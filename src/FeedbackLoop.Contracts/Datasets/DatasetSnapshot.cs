namespace FeedbackLoop.Contracts.Datasets;

/// <summary>One dataset file of a frozen snapshot, with the rows it held when the snapshot was taken.</summary>
/// <param name="Path">Absolute path of the Parquet file.</param>
/// <param name="Rows">Rows it held when the snapshot was taken.</param>
public sealed record SnapshotFile(string Path, long Rows);

/// <summary>
/// The exact preference-pair files (and row counts) a run trains and evaluates on, as the snapshot source takes it, the
/// registry stores it with the run, and a job carries its files to the workers: one model everywhere. Files are
/// immutable once renamed into place, so rows written later cannot leak into a run.
/// </summary>
/// <param name="AppId">The app whose pairs these are.</param>
/// <param name="Files">The files, as the dataset store names them.</param>
public sealed record DatasetSnapshot(string AppId, IReadOnlyList<SnapshotFile> Files)
{
    /// <summary>
    /// The reviewed snapshot (<c>snap-…</c>, docs/REVIEW.md) these files were frozen as, when there is one: reading then
    /// applies its review decisions (excluded pairs never train) and checks each file's hash. Null for a bare file list.
    /// </summary>
    public string? SnapshotId { get; init; }

    /// <summary>Rows over all files: the app's committed pairs when the snapshot was taken.</summary>
    public long TotalPairs => Files.Sum(f => f.Rows);
}
