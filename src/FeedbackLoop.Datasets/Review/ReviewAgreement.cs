namespace FeedbackLoop.Datasets.Review;

/// <summary>How much two reviewers agree, over the items both decided.</summary>
/// <param name="ReviewerA">One reviewer (the two are in ordinal order).</param>
/// <param name="ReviewerB">The other.</param>
/// <param name="ItemsCompared">Items both decided.</param>
/// <param name="ObservedAgreement">The share of those items where their decisions match; null when there are none.</param>
/// <param name="Kappa">Cohen's kappa; null when it is undefined (see <paramref name="Note"/>).</param>
/// <param name="Note">Why the kappa is undefined; null when it is defined.</param>
public sealed record ReviewerPairAgreement(string ReviewerA, string ReviewerB, int ItemsCompared, double? ObservedAgreement, double? Kappa, string? Note);

/// <summary>Agreement among an app's reviewers, over the items that several of them decided.</summary>
/// <param name="Kind">Which items: <see cref="ReviewItemKinds.Pair"/> or <see cref="ReviewItemKinds.Label"/>.</param>
/// <param name="Method"><c>cohen</c> (two reviewers took part), <c>fleiss</c> (more), or <c>none</c> (fewer than two, or no item in common).</param>
/// <param name="Reviewers">The reviewers who decided at least one compared item.</param>
/// <param name="ItemsCompared">Items decided by two reviewers or more.</param>
/// <param name="Kappa">Cohen's kappa for two reviewers, Fleiss' for more; null when undefined (see <paramref name="Note"/>).</param>
/// <param name="Note">Why the kappa is undefined; null when it is defined.</param>
/// <param name="Pairs">Cohen's kappa for every pair of reviewers who decided an item in common.</param>
public sealed record AgreementReport(
    string Kind, string Method, IReadOnlyList<string> Reviewers, int ItemsCompared, double? Kappa, string? Note, IReadOnlyList<ReviewerPairAgreement> Pairs);

/// <summary>
/// Inter-reviewer agreement from the review log: each reviewer's latest decision on an item is their rating of it, its
/// action the category (approve, exclude, swap, correct; for labels approve, exclude, flip). Only items two reviewers or
/// more decided count. Cohen's kappa (Cohen 1960) when two reviewers took part, Fleiss' kappa (Fleiss 1971) when more,
/// and Cohen's for each pair of reviewers. Kappa is chance-corrected, (P − Pe) / (1 − Pe); when every decision compared
/// falls in one category, Pe is 1 and kappa is 0/0: it is reported as undefined (null, with the reason), not as 1,
/// because the data cannot tell agreement from chance there. Pure: no files, so the review app calls it on what it read.
/// </summary>
public static class ReviewAgreement
{
    /// <summary>Kappa methods as reported.</summary>
    public const string Cohen = "cohen";

    /// <summary>Fleiss' kappa, for three reviewers or more.</summary>
    public const string Fleiss = "fleiss";

    /// <summary>No figure: fewer than two reviewers, or no item in common.</summary>
    public const string None = "none";

    private const string OneCategory = "undefined: every decision compared is the same action, so agreement cannot be told from chance (expected agreement is 1)";
    private const string NoOverlap = "no item was decided by two reviewers or more";

    /// <summary>Agreement over the <paramref name="kind"/> items of <paramref name="decisions"/> (the review log, in log order).</summary>
    public static AgreementReport Measure(IEnumerable<ReviewDecision> decisions, string kind = ReviewItemKinds.Pair)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        // The latest decision per (item, reviewer) is that reviewer's rating: a reviewer who changed their mind counts once.
        var ratings = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var d in decisions.Where(d => d.Kind == kind))
        {
            if (!ratings.TryGetValue(d.Item, out var byReviewer)) ratings[d.Item] = byReviewer = new Dictionary<string, string>(StringComparer.Ordinal);
            byReviewer[d.Reviewer] = d.Action;
        }

        var shared = ratings.Values.Where(r => r.Count >= 2).ToList();
        var reviewers = shared.SelectMany(r => r.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var pairs = new List<ReviewerPairAgreement>();
        for (var i = 0; i < reviewers.Count; i++)
        {
            for (var j = i + 1; j < reviewers.Count; j++)
            {
                var (a, b) = (reviewers[i], reviewers[j]);
                var both = shared.Where(r => r.ContainsKey(a) && r.ContainsKey(b)).Select(r => (r[a], r[b])).ToList();
                if (both.Count == 0) continue;
                var (kappa, observed) = CohenKappa(both);
                pairs.Add(new ReviewerPairAgreement(a, b, both.Count, observed, kappa, kappa is null ? OneCategory : null));
            }
        }

        if (shared.Count == 0) return new AgreementReport(kind, None, reviewers, 0, null, NoOverlap, pairs);
        if (reviewers.Count == 2)
        {
            var only = pairs[0];
            return new AgreementReport(kind, Cohen, reviewers, shared.Count, only.Kappa, only.Note, pairs);
        }

        var fleiss = FleissKappa(shared.Select(r => (IReadOnlyDictionary<string, int>)r.Values.GroupBy(v => v, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal)).ToList());
        return new AgreementReport(kind, Fleiss, reviewers, shared.Count, fleiss, fleiss is null ? OneCategory : null, pairs);
    }

    /// <summary>
    /// Cohen's kappa of two raters over the items both rated (one tuple per item: rater A's category, rater B's), and the
    /// observed agreement. Kappa is null when the expected agreement is 1 (both used one and the same category throughout).
    /// </summary>
    public static (double? Kappa, double Observed) CohenKappa(IReadOnlyList<(string A, string B)> ratings)
    {
        ArgumentNullException.ThrowIfNull(ratings);
        if (ratings.Count == 0) throw new ArgumentException("Cohen's kappa needs at least one item both raters rated", nameof(ratings));
        double n = ratings.Count;
        var observed = ratings.Count(r => r.A == r.B) / n;
        var a = ratings.GroupBy(r => r.A, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count() / n, StringComparer.Ordinal);
        var b = ratings.GroupBy(r => r.B, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count() / n, StringComparer.Ordinal);
        var expected = a.Sum(kv => kv.Value * b.GetValueOrDefault(kv.Key));
        return (Chance(observed, expected), observed);
    }

    /// <summary>
    /// Fleiss' kappa over items each rated by two raters or more (per item: how many raters chose each category). Fleiss
    /// defined it for the same number of raters per item; with unequal numbers each item's agreement is still the share of
    /// agreeing rater pairs, averaged over items, and the category shares are over all ratings (equal to Fleiss' with equal
    /// numbers). Null when the expected agreement is 1.
    /// </summary>
    public static double? FleissKappa(IReadOnlyList<IReadOnlyDictionary<string, int>> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("Fleiss' kappa needs at least one item", nameof(items));
        var totals = new Dictionary<string, double>(StringComparer.Ordinal);
        double ratings = 0, agreement = 0;
        foreach (var item in items)
        {
            double raters = item.Values.Sum();
            if (raters < 2 || item.Values.Any(c => c < 0)) throw new ArgumentException("every item needs two ratings or more", nameof(items));
            agreement += item.Values.Sum(c => (double)c * (c - 1)) / (raters * (raters - 1));
            ratings += raters;
            foreach (var (category, count) in item) totals[category] = totals.GetValueOrDefault(category) + count;
        }

        var observed = agreement / items.Count;
        var expected = totals.Values.Sum(t => (t / ratings) * (t / ratings));
        return Chance(observed, expected);
    }

    // Rounding can leave an expected agreement of 0.9999999999999998 where every rating is one category.
    private static double? Chance(double observed, double expected) =>
        expected >= 1 - 1e-12 ? null : (observed - expected) / (1 - expected);
}
