using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Review.Queue;

/// <summary>One bar of the overview's chart: a time bucket's pairs per signal and its labels.</summary>
public sealed record ChartBucket(DateTimeOffset Start, IReadOnlyDictionary<string, int> PairsBySignal, int Labels)
{
    public int Total => PairsBySignal.Values.Sum() + Labels;
}

/// <summary>Engagement of one model version, summed over its windows and variants.</summary>
public sealed record VersionEngagement(string ModelVersion, long Shown, long ThumbsUp, long ThumbsDown, long Regenerated, long Edited, long ComparisonsWon, long ComparisonsLost);

/// <summary>An app's overview: pairs and labels over time, how much is reviewed, why pairs were excluded, engagement per version.</summary>
public sealed record Overview(
    IReadOnlyList<ChartBucket> Buckets,
    TimeSpan BucketSize,
    int Pairs,
    int Labels,
    int Reviewed,
    IReadOnlyDictionary<string, int> Actions,
    IReadOnlyList<(string Reason, int Count)> ExclusionReasons,
    IReadOnlyList<VersionEngagement> Engagement)
{
    /// <summary>The most buckets the chart draws: the bucket size grows (hour, 6 hours, day, week, 30 days) until the span fits.</summary>
    public const int MaxBuckets = 48;

    private static readonly TimeSpan[] Sizes = [TimeSpan.FromHours(1), TimeSpan.FromHours(6), TimeSpan.FromDays(1), TimeSpan.FromDays(7), TimeSpan.FromDays(30)];

    public static Overview Of(AppPairs pairs, IReadOnlyList<FeedbackLabel> labels, IReadOnlyList<EngagementTotal> engagement)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(engagement);
        var times = pairs.Pairs.Select(p => p.CreatedAt).Concat(labels.Select(l => l.CreatedAt)).ToList();
        var buckets = new List<ChartBucket>();
        var size = Sizes[0];
        if (times.Count > 0)
        {
            var (first, last) = (times.Min(), times.Max());
            size = Sizes.FirstOrDefault(s => (last - first).Ticks / s.Ticks < MaxBuckets, Sizes[^1]);
            var origin = new DateTimeOffset(first.UtcTicks - first.UtcTicks % size.Ticks, TimeSpan.Zero);
            var count = (int)Math.Min(MaxBuckets, (last - origin).Ticks / size.Ticks + 1);
            int Index(DateTimeOffset at) => (int)Math.Min(count - 1, (at - origin).Ticks / size.Ticks);
            var bySignal = Enumerable.Range(0, count).Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
            var labelCounts = new int[count];
            foreach (var p in pairs.Pairs)
            {
                var bucket = bySignal[Index(p.CreatedAt)];
                bucket[p.Signal] = bucket.GetValueOrDefault(p.Signal) + 1;
            }
            foreach (var l in labels) labelCounts[Index(l.CreatedAt)]++;
            for (var n = 0; n < count; n++) buckets.Add(new ChartBucket(origin + size * n, bySignal[n], labelCounts[n]));
        }

        var ids = pairs.Pairs.Select(p => p.PairId).Concat(labels.Select(l => l.LabelId)).ToHashSet(StringComparer.Ordinal);
        var decided = pairs.Latest.Values.Where(d => ids.Contains(d.Item)).ToList();
        var actions = decided.GroupBy(d => d.Action, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var reasons = decided.Where(d => d.After.Excludes).GroupBy(d => d.Reason ?? "", StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count())).OrderByDescending(r => r.Item2).ThenBy(r => r.Key, StringComparer.Ordinal).ToList();
        var versions = engagement.GroupBy(e => e.ModelVersion, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new VersionEngagement(g.Key, g.Sum(e => e.Shown), g.Sum(e => e.ThumbsUp), g.Sum(e => e.ThumbsDown), g.Sum(e => e.Regenerated),
                g.Sum(e => e.Edited), g.Sum(e => e.ComparisonsWon), g.Sum(e => e.ComparisonsLost))).ToList();
        return new Overview(buckets, size, pairs.Pairs.Count, labels.Count, decided.Count, actions, reasons, versions);
    }
}
