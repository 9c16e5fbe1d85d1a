namespace FeedbackLoop.Datasets.Review;

/// <summary>What the review index does with the files it has not read yet.</summary>
public enum ReviewIndexStep
{
    /// <summary>Nothing changed.</summary>
    Nothing,

    /// <summary>The new rows all sort after the indexed ones: they are numbered on from the end, nothing else moves.</summary>
    Append,

    /// <summary>New rows sort among the indexed ones, or a file went away: every row is sorted and numbered again.</summary>
    Rebuild,
}

/// <summary>A dataset file as the folder lists it: its path and length (files are immutable once renamed into place).</summary>
public readonly record struct DatasetFile(string Path, long Length);

/// <summary>Which files the index reads and which it drops, given what it holds and what the folder has now.</summary>
/// <param name="ToRead">Files not read yet: new ones, ones whose length changed, and unreadable ones that changed since.</param>
/// <param name="Gone">Files whose rows the index holds but that are no longer there as read (removed or changed).</param>
public sealed record ReviewFolderChange(IReadOnlyList<DatasetFile> ToRead, IReadOnlyList<string> Gone);

/// <summary>
/// The review index's pure decisions (docs/adr/0040): which files to read after a look at the folder, and whether their rows
/// can be appended to the sorted index or the index must be sorted again. Table-tested.
/// </summary>
public static class ReviewIndexPlan
{
    /// <summary>
    /// Compares the folder with what the index holds. A file that could not be read is not read again until its length
    /// changes (a file still being copied in by hand grows; a corrupt one stays as it is and stays reported).
    /// </summary>
    public static ReviewFolderChange Compare(
        IReadOnlyDictionary<string, long> indexed, IReadOnlyDictionary<string, long> unreadable, IReadOnlyList<DatasetFile> present)
    {
        ArgumentNullException.ThrowIfNull(indexed);
        ArgumentNullException.ThrowIfNull(unreadable);
        ArgumentNullException.ThrowIfNull(present);
        var toRead = present
            .Where(f => !(indexed.TryGetValue(f.Path, out var length) && length == f.Length))
            .Where(f => !(unreadable.TryGetValue(f.Path, out var length) && length == f.Length))
            .ToList();
        var now = present.ToDictionary(f => f.Path, f => f.Length, StringComparer.Ordinal);
        var gone = indexed.Where(kv => !(now.TryGetValue(kv.Key, out var length) && length == kv.Value)).Select(kv => kv.Key)
            .Order(StringComparer.Ordinal).ToList();
        return new ReviewFolderChange(toRead, gone);
    }

    /// <summary>
    /// Whether rows read from new files can go after the indexed ones. Sort keys are (created_at in µs, pair_id); new rows
    /// append only when the first of them sorts strictly after the last indexed row, so the row numbers stay the list order.
    /// </summary>
    /// <param name="anyGone">Whether a file's rows must leave the index.</param>
    /// <param name="lastIndexed">The sort key of the last indexed row (null: the index is empty).</param>
    /// <param name="firstNew">The sort key of the first new row (null: no new rows).</param>
    public static ReviewIndexStep Step(bool anyGone, (long Micros, string PairId)? lastIndexed, (long Micros, string PairId)? firstNew)
    {
        if (anyGone) return ReviewIndexStep.Rebuild;
        if (firstNew is not { } first) return ReviewIndexStep.Nothing;
        if (lastIndexed is not { } last) return ReviewIndexStep.Append;
        var after = first.Micros > last.Micros || (first.Micros == last.Micros && string.CompareOrdinal(first.PairId, last.PairId) > 0);
        return after ? ReviewIndexStep.Append : ReviewIndexStep.Rebuild;
    }
}
