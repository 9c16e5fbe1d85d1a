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
/// is read on every request, so a decision made by <c>review decide</c> shows at once. The filtered list goes through one
/// <see cref="ReviewQuery"/> per app (the same query code as <c>bench review</c>), opened on first use and refreshed before
/// every list, so new dataset files and new decisions show in the next page.
/// </summary>
public sealed class ReviewData(string dataRoot) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Key, IReadOnlyList<PreferencePair> Pairs)> _cache = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly Dictionary<string, ReviewQuery> _queries = new(StringComparer.Ordinal);

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

    /// <summary>
    /// The app's list query, with every dataset file and decision present now taken in. The first call for an app reads its
    /// files (seconds for a million pairs); later calls look for changes only.
    /// </summary>
    public async Task<ReviewQuery> QueryAsync(string appId, CancellationToken cancellationToken)
    {
        ReviewQuery? query;
        lock (_lock) _queries.TryGetValue(appId, out query);
        if (query is null)
        {
            await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                lock (_lock) _queries.TryGetValue(appId, out query);
                if (query is null)
                {
                    query = await ReviewQuery.OpenAsync(DataRoot, appId, cancellationToken).ConfigureAwait(false);
                    lock (_lock) _queries[appId] = query;
                    return query;
                }
            }
            finally
            {
                _opening.Release();
            }
        }

        await query.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return query;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var query in _queries.Values) query.Dispose();
            _queries.Clear();
        }

        _opening.Dispose();
    }
}
