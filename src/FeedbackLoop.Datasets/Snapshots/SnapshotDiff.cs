using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Snapshots;

/// <summary>What a snapshot holds, for comparing: its pair and label ids and the review state of the reviewed ones.</summary>
public sealed record SnapshotContent(IReadOnlySet<string> PairIds, IReadOnlySet<string> LabelIds, IReadOnlyDictionary<string, ReviewState> States)
{
    /// <summary>An item's state (<see cref="ReviewState.Unreviewed"/> when no decision applies).</summary>
    public ReviewState StateOf(string item) => States.TryGetValue(item, out var state) ? state : ReviewState.Unreviewed;
}

/// <summary>One item both snapshots hold whose review state differs.</summary>
public sealed record ReviewChange(string Item, string Kind, ReviewState Before, ReviewState After);

/// <summary>
/// How snapshot <c>b</c> differs from snapshot <c>a</c>: rows only <c>b</c> holds (added), rows only <c>a</c> holds
/// (removed: a dataset file went away), and rows both hold whose review changed. Ids are in ordinal order.
/// </summary>
public sealed record SnapshotDiff(
    IReadOnlyList<string> AddedPairs,
    IReadOnlyList<string> RemovedPairs,
    IReadOnlyList<string> AddedLabels,
    IReadOnlyList<string> RemovedLabels,
    IReadOnlyList<ReviewChange> ChangedByReview)
{
    /// <summary>Compares two snapshots' contents.</summary>
    public static SnapshotDiff Compute(SnapshotContent a, SnapshotContent b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var changes = new List<ReviewChange>();
        Changes(a.PairIds, b.PairIds, ReviewItemKinds.Pair);
        Changes(a.LabelIds, b.LabelIds, ReviewItemKinds.Label);
        return new SnapshotDiff(
            Only(b.PairIds, a.PairIds), Only(a.PairIds, b.PairIds), Only(b.LabelIds, a.LabelIds), Only(a.LabelIds, b.LabelIds),
            [.. changes.OrderBy(c => c.Item, StringComparer.Ordinal)]);

        void Changes(IReadOnlySet<string> before, IReadOnlySet<string> after, string kind)
        {
            foreach (var id in before)
            {
                if (!after.Contains(id)) continue;
                var (was, now) = (a.StateOf(id), b.StateOf(id));
                if (was != now) changes.Add(new ReviewChange(id, kind, was, now));
            }
        }
    }

    private static List<string> Only(IReadOnlySet<string> these, IReadOnlySet<string> notThose) =>
        [.. these.Where(id => !notThose.Contains(id)).Order(StringComparer.Ordinal)];
}
