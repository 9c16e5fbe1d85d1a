using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Review.Queue;

/// <summary>An app's pairs with the review state each has now (the latest decision in the audit log).</summary>
public sealed record AppPairs(IReadOnlyList<PreferencePair> Pairs, IReadOnlyDictionary<string, ReviewDecision> Latest, IReadOnlyList<ReviewDecision> Log)
{
    /// <summary>The review state of <paramref name="pairId"/>.</summary>
    public ReviewState StateOf(string pairId) => Latest.TryGetValue(pairId, out var d) ? d.After : ReviewState.Unreviewed;
}

/// <summary>
/// Reads an app's committed pairs and its review log for the pages. The pairs are cached until a dataset file is added
/// or changes (files are immutable once renamed into place, so the folder listing with sizes is the cache key); the log
/// is read on every request, so a decision made by <c>review decide</c> shows at once.
/// </summary>
public sealed class ReviewData(string dataRoot)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Key, IReadOnlyList<PreferencePair> Pairs)> _cache = new(StringComparer.Ordinal);

    public string DataRoot { get; } = dataRoot;

    /// <summary>The apps that have datasets.</summary>
    public IReadOnlyList<string> Apps() => DatasetPaths.Apps(DataRoot);

    /// <summary>Whether <paramref name="appId"/> is an app with datasets (checked before it becomes part of a path).</summary>
    public bool Has(string? appId) => appId is not null && Apps().Contains(appId, StringComparer.Ordinal);

    public async Task<AppPairs> PairsAsync(string appId, CancellationToken cancellationToken)
    {
        var files = DatasetPaths.Files(DatasetPaths.Folder(DataRoot, appId, DatasetKinds.PreferencePairs));
        var key = string.Join('\n', files.Select(f => f + " " + new FileInfo(f).Length));
        IReadOnlyList<PreferencePair>? pairs = null;
        lock (_lock)
        {
            if (_cache.TryGetValue(appId, out var hit) && hit.Key == key) pairs = hit.Pairs;
        }
        if (pairs is null)
        {
            pairs = await DatasetReader.ReadPairFilesAsync(files, cancellationToken).ConfigureAwait(false);
            lock (_lock) _cache[appId] = (key, pairs);
        }
        var log = await new ReviewLog(DataRoot, appId).ReadAsync(cancellationToken).ConfigureAwait(false);
        return new AppPairs(pairs, ReviewRules.Latest(log), log);
    }
}
