using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// Reviewer agreement checked against worked examples from the literature, then the log's own rules (latest decision per
/// reviewer, items several decided) and the edge cases: all agree on one action, one item, no overlap.
/// </summary>
public sealed class ReviewAgreementTests
{
    // Wikipedia, "Cohen's kappa", worked example: 50 grant proposals, readers A and B say yes or no; both yes 20, A yes and
    // B no 5, A no and B yes 10, both no 15. p_o = 0.7, p_e = 0.5, kappa = 0.4.
    // Same article, "same percentages but different numbers": 45/15/25/15 gives 0.1304 and 25/35/5/35 gives 0.2593, both
    // with p_o = 0.6 (kappa depends on the marginals, not only on agreement).
    [Theory]
    [InlineData(20, 5, 10, 15, 0.7, 0.4)]
    [InlineData(45, 15, 25, 15, 0.6, 0.1304)]
    [InlineData(25, 35, 5, 35, 0.6, 0.2593)]
    public void Cohens_kappa_matches_the_worked_examples(int yesYes, int yesNo, int noYes, int noNo, double observed, double kappa)
    {
        var ratings = Repeat(("yes", "yes"), yesYes).Concat(Repeat(("yes", "no"), yesNo)).Concat(Repeat(("no", "yes"), noYes)).Concat(Repeat(("no", "no"), noNo)).ToList();

        var (k, o) = ReviewAgreement.CohenKappa(ratings);

        Assert.Equal(observed, o, 10);
        Assert.Equal(kappa, k!.Value, 4);
    }

    // Wikipedia, "Fleiss' kappa", worked example (after Fleiss 1971): 14 raters put 10 subjects in 5 categories;
    // P̄ = 0.378, P̄e = 0.213, kappa = 0.210.
    [Fact]
    public void Fleiss_kappa_matches_the_worked_example()
    {
        int[][] table =
        [
            [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
        ];
        var items = table.Select(row => (IReadOnlyDictionary<string, int>)row.Select((count, c) => (count, c)).Where(x => x.count > 0)
            .ToDictionary(x => $"category {x.c + 1}", x => x.count)).ToList();

        Assert.Equal(0.210, ReviewAgreement.FleissKappa(items)!.Value, 3);
    }

    [Fact]
    public void Fleiss_with_two_raters_per_item_is_close_to_cohen_but_uses_pooled_shares()
    {
        // Fleiss pools both raters' shares (Scott's pi for two raters): for the 20/5/10/15 table pooled "yes" is 0.55, so
        // P̄e = 0.55² + 0.45² = 0.505 and kappa = (0.7 − 0.505) / 0.495 = 0.3939..., not Cohen's 0.4.
        var items = Repeat<IReadOnlyDictionary<string, int>>(new Dictionary<string, int> { ["yes"] = 2 }, 20)
            .Concat(Repeat<IReadOnlyDictionary<string, int>>(new Dictionary<string, int> { ["yes"] = 1, ["no"] = 1 }, 15))
            .Concat(Repeat<IReadOnlyDictionary<string, int>>(new Dictionary<string, int> { ["no"] = 2 }, 15)).ToList();

        Assert.Equal(0.195 / 0.495, ReviewAgreement.FleissKappa(items)!.Value, 10);
    }

    [Fact]
    public void Two_reviewers_get_cohens_kappa_over_the_items_both_decided_using_their_latest_decisions()
    {
        var log = new List<ReviewDecision>
        {
            Decide("p1", "ann", ReviewActions.Approve), Decide("p1", "bob", ReviewActions.Approve),
            Decide("p2", "ann", ReviewActions.Exclude), Decide("p2", "bob", ReviewActions.Exclude),
            Decide("p3", "ann", ReviewActions.Approve), Decide("p3", "bob", ReviewActions.Exclude),
            // ann changes her mind on p4: her latest decision is her rating.
            Decide("p4", "ann", ReviewActions.Exclude), Decide("p4", "bob", ReviewActions.Swap), Decide("p4", "ann", ReviewActions.Swap),
            Decide("p5", "ann", ReviewActions.Approve), // ann alone: not compared
            Decide("l1", "ann", ReviewActions.Flip, ReviewItemKinds.Label), Decide("l1", "bob", ReviewActions.Approve, ReviewItemKinds.Label),
        };

        var report = ReviewAgreement.Measure(log);

        // Agreed on 3 of 4. ann: approve 2/4, exclude 1/4, swap 1/4; bob: approve 1/4, exclude 2/4, swap 1/4.
        // p_e = 0.5·0.25 + 0.25·0.5 + 0.25·0.25 = 0.3125; kappa = (0.75 − 0.3125) / 0.6875 = 0.63636...
        Assert.Equal((ReviewAgreement.Cohen, 4), (report.Method, report.ItemsCompared));
        Assert.Equal(["ann", "bob"], report.Reviewers);
        Assert.Equal(0.4375 / 0.6875, report.Kappa!.Value, 10);
        Assert.Null(report.Note);
        var pair = Assert.Single(report.Pairs);
        Assert.Equal(("ann", "bob", 4, 0.75), (pair.ReviewerA, pair.ReviewerB, pair.ItemsCompared, pair.ObservedAgreement!.Value));
        Assert.Equal(report.Kappa, pair.Kappa);

        // Labels are measured on their own.
        var labels = ReviewAgreement.Measure(log, ReviewItemKinds.Label);
        Assert.Equal((ReviewAgreement.Cohen, 1, 0.0), (labels.Method, labels.ItemsCompared, labels.Kappa!.Value));
    }

    [Fact]
    public void Three_reviewers_get_fleiss_kappa_and_cohens_for_each_pair()
    {
        var log = new List<ReviewDecision>
        {
            Decide("p1", "ann", ReviewActions.Approve), Decide("p1", "bob", ReviewActions.Approve), Decide("p1", "cy", ReviewActions.Approve),
            Decide("p2", "ann", ReviewActions.Exclude), Decide("p2", "bob", ReviewActions.Exclude), Decide("p2", "cy", ReviewActions.Approve),
            Decide("p3", "ann", ReviewActions.Exclude), Decide("p3", "bob", ReviewActions.Exclude), Decide("p3", "cy", ReviewActions.Exclude),
            Decide("p4", "ann", ReviewActions.Approve), Decide("p4", "cy", ReviewActions.Approve), // two of three: still compared
        };

        var report = ReviewAgreement.Measure(log);

        // Items: {a3}, {e2,a1}, {e3}, {a2}. P_i = 1, 1/3, 1, 1 → P̄ = 5/6. Ratings: approve 6/11, exclude 5/11.
        var expected = 36.0 / 121 + 25.0 / 121;
        Assert.Equal((ReviewAgreement.Fleiss, 4, 3), (report.Method, report.ItemsCompared, report.Reviewers.Count));
        Assert.Equal((5.0 / 6 - expected) / (1 - expected), report.Kappa!.Value, 10);
        Assert.Equal([("ann", "bob", 3), ("ann", "cy", 4), ("bob", "cy", 3)], report.Pairs.Select(p => (p.ReviewerA, p.ReviewerB, p.ItemsCompared)));
        Assert.Equal(1.0, report.Pairs[0].Kappa); // ann and bob agree on everything, across two actions
    }

    [Fact]
    public void When_everyone_agrees_on_one_action_kappa_is_undefined_and_says_why()
    {
        // p_o = 1 and p_e = 1: 0/0. Reported as undefined, not 1: the data cannot tell agreement from chance.
        var log = new List<ReviewDecision>
        {
            Decide("p1", "ann", ReviewActions.Approve), Decide("p1", "bob", ReviewActions.Approve),
            Decide("p2", "ann", ReviewActions.Approve), Decide("p2", "bob", ReviewActions.Approve),
        };

        var report = ReviewAgreement.Measure(log);

        Assert.Equal((ReviewAgreement.Cohen, 2), (report.Method, report.ItemsCompared));
        Assert.Null(report.Kappa);
        Assert.Contains("every decision compared is the same action", report.Note, StringComparison.Ordinal);
        Assert.Equal(1.0, Assert.Single(report.Pairs).ObservedAgreement);
    }

    [Fact]
    public void One_item_decided_differently_gives_kappa_0()
    {
        // p_o = 0; ann's approve and bob's exclude share nothing, so p_e = 0 too: kappa = 0, no better than chance.
        var report = ReviewAgreement.Measure([Decide("p1", "ann", ReviewActions.Approve), Decide("p1", "bob", ReviewActions.Exclude)]);

        Assert.Equal((1, 0.0), (report.ItemsCompared, report.Kappa!.Value));
    }

    [Fact]
    public void One_item_decided_alike_is_undefined()
    {
        var report = ReviewAgreement.Measure([Decide("p1", "ann", ReviewActions.Swap), Decide("p1", "bob", ReviewActions.Swap)]);

        Assert.Equal((1, (double?)null), (report.ItemsCompared, report.Kappa));
    }

    [Fact]
    public void No_overlap_gives_no_figure_and_says_why()
    {
        var report = ReviewAgreement.Measure([Decide("p1", "ann", ReviewActions.Approve), Decide("p2", "bob", ReviewActions.Exclude)]);

        Assert.Equal((ReviewAgreement.None, 0, (double?)null), (report.Method, report.ItemsCompared, report.Kappa));
        Assert.Equal("no item was decided by two reviewers or more", report.Note);
        Assert.Empty(report.Reviewers);
        Assert.Empty(report.Pairs);
    }

    [Fact]
    public void An_empty_log_gives_no_figure()
    {
        var report = ReviewAgreement.Measure([]);

        Assert.Equal((ReviewAgreement.None, 0), (report.Method, report.ItemsCompared));
    }

    [Fact]
    public void Impossible_inputs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ReviewAgreement.CohenKappa([]));
        Assert.Throws<ArgumentException>(() => ReviewAgreement.FleissKappa([]));
        Assert.Throws<ArgumentException>(() => ReviewAgreement.FleissKappa([new Dictionary<string, int> { ["yes"] = 1 }]));
    }

    private static int _sequence;

    private static ReviewDecision Decide(string item, string reviewer, string action, string kind = ReviewItemKinds.Pair) => new(
        $"dec-{Interlocked.Increment(ref _sequence)}", "shop", item, kind, action, action == ReviewActions.Exclude ? "low-quality" : null, null, reviewer,
        DateTimeOffset.UnixEpoch, ReviewState.Unreviewed, null);

    private static IEnumerable<T> Repeat<T>(T value, int count) => Enumerable.Repeat(value, count);
}
