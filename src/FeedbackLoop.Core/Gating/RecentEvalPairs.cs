using System.Globalization;

namespace FeedbackLoop.Core.Gating;

/// <summary>A held-out pair as the recency rule sees it: its id and when it was made (its <c>created_at</c>, event time).</summary>
/// <param name="PairId">The pair's <c>pair_id</c>.</param>
/// <param name="CreatedAt">When the pair's feedback happened.</param>
public readonly record struct HeldOutPair(string PairId, DateTimeOffset CreatedAt);

/// <summary>
/// The recency-aware evaluation (<c>eval.recency</c>, docs/ROLLOUT.md, ADR 0039): the gate scores candidate and incumbent
/// only on the held-out pairs made in the last <see cref="Window"/> before the newest held-out pair, and on at least the
/// newest <see cref="MinPairs"/> of them, so a quiet window cannot let a handful of pairs decide. When users' tastes move,
/// pairs from before the move reward the model that learned the old taste; this is the usual temporal holdout.
/// </summary>
public sealed record RecentEvalPairs
{
    /// <summary>A hundred pairs: the paired gate's interval is then about ±0.05 wide, still able to see a real lead.</summary>
    public const int DefaultMinPairs = 100;

    /// <summary>The rule.</summary>
    /// <param name="window">How far back from the newest held-out pair a pair still counts; more than zero.</param>
    /// <param name="minPairs">The fewest pairs scored when the snapshot holds that many held-out pairs; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The window is not positive, or the minimum is below 1.</exception>
    public RecentEvalPairs(TimeSpan window, int minPairs)
    {
        if (window <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(window), window, "The recency window must be longer than zero.");
        if (minPairs < 1) throw new ArgumentOutOfRangeException(nameof(minPairs), minPairs, "The minimum number of eval pairs must be at least 1.");
        Window = window;
        MinPairs = minPairs;
    }

    /// <summary>How far back from the newest held-out pair a pair still counts.</summary>
    public TimeSpan Window { get; }

    /// <summary>The fewest pairs scored when the snapshot holds that many held-out pairs.</summary>
    public int MinPairs { get; }

    /// <summary>
    /// Which of <paramref name="heldOut"/> the gate scores. The window ends at the newest held-out pair, not at the clock,
    /// so evaluating the same snapshot again picks the same pairs. Newest first, ties by pair id (ordinal), so the choice
    /// at the edge of the minimum is deterministic.
    /// </summary>
    /// <exception cref="ArgumentException">A pair id appears twice.</exception>
    public EvalPairSelection Select(IReadOnlyCollection<HeldOutPair> heldOut)
    {
        ArgumentNullException.ThrowIfNull(heldOut);
        var ordered = heldOut.OrderByDescending(p => p.CreatedAt).ThenBy(p => p.PairId, StringComparer.Ordinal).ToList();
        if (ordered.Select(p => p.PairId).Distinct(StringComparer.Ordinal).Count() != ordered.Count)
        {
            throw new ArgumentException("A held-out pair id appears more than once.", nameof(heldOut));
        }

        if (ordered.Count == 0)
        {
            return new EvalPairSelection(new HashSet<string>(StringComparer.Ordinal), new EvalPairsUsed(0, 0, 0, null, null, Window, MinPairs));
        }

        var newest = ordered[0].CreatedAt;
        var start = newest - Window;
        var inWindow = ordered.Count(p => p.CreatedAt >= start);
        var used = Math.Max(inWindow, Math.Min(MinPairs, ordered.Count));
        var chosen = ordered.Take(used).ToList();
        return new EvalPairSelection(
            chosen.Select(p => p.PairId).ToHashSet(StringComparer.Ordinal),
            new EvalPairsUsed(ordered.Count, inWindow, used, chosen[^1].CreatedAt, newest, Window, MinPairs));
    }
}

/// <summary>The pairs the recency rule chose, and the record of the choice that goes into the eval report.</summary>
/// <param name="PairIds">The chosen pair ids.</param>
/// <param name="Used">Counts and times, for the report and the gate's reason.</param>
public sealed record EvalPairSelection(IReadOnlySet<string> PairIds, EvalPairsUsed Used);

/// <summary>
/// Which held-out pairs an eval scored when <c>eval.recency</c> chose them (in the eval report as <c>pairs_used</c>, and
/// in the gate's reason): of <paramref name="HeldOut"/> pairs, <paramref name="InWindow"/> lay in the window and
/// <paramref name="Used"/> were scored (more than the window's when the minimum widened it), made from
/// <paramref name="From"/> to <paramref name="To"/>.
/// </summary>
/// <param name="HeldOut">Held-out pairs in the snapshot.</param>
/// <param name="InWindow">Those made in the window before the newest.</param>
/// <param name="Used">Those scored.</param>
/// <param name="From">When the oldest scored pair was made; null when none was.</param>
/// <param name="To">When the newest held-out pair was made (the window's end); null when there is none.</param>
/// <param name="Window">The setting's window.</param>
/// <param name="MinPairs">The setting's minimum.</param>
public sealed record EvalPairsUsed(int HeldOut, int InWindow, int Used, DateTimeOffset? From, DateTimeOffset? To, TimeSpan Window, int MinPairs)
{
    /// <summary>In words, for the gate's reason: which pairs, how many of how many, and why.</summary>
    public string Describe()
    {
        var rule = $"eval.recency window {DurationText.Format(Window)}, at least {Count(MinPairs)}";
        if (Used == 0) return $"no held-out pairs to choose from ({rule})";
        var when = $"made {Time(From!.Value)} to {Time(To!.Value)}";
        return InWindow >= Used
            ? $"the {Count(Used)} of {Count(HeldOut)} held-out pairs made in the {DurationText.Format(Window)} up to the newest, {when} ({rule})"
            : $"the newest {Count(Used)} of {Count(HeldOut)} held-out pairs, {when}: the {DurationText.Format(Window)} up to the newest held only {Count(InWindow)} ({rule})";
    }

    private static string Count(int value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
