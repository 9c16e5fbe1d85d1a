using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Core.Tests.Gating;

/// <summary>The promotion gate as a table: each row is an eval set described by how the two models split its pairs.</summary>
public sealed class EvalGateTests
{
    [Theory]
    // scenario,                                 both right, candidate only, incumbent only, both wrong, margin, promote, reason
    [InlineData("clear win", 70, 15, 2, 13, 0.02, true,
        "candidate 0.850 vs incumbent 0.720: +0.130 ≥ margin 0.02 and 95% lower bound +0.053 > 0")]
    [InlineData("win below the margin, interval clear of zero", 800, 15, 0, 185, 0.02, false,
        "candidate 0.815 vs incumbent 0.800: +0.015 < margin 0.02 but 95% lower bound +0.007 > 0")]
    [InlineData("win exactly at the margin", 800, 20, 0, 180, 0.02, true,
        "candidate 0.820 vs incumbent 0.800: +0.020 ≥ margin 0.02 and 95% lower bound +0.011 > 0")]
    [InlineData("win above the margin, interval includes zero", 30, 6, 4, 10, 0.02, false,
        "candidate 0.720 vs incumbent 0.680: +0.040 ≥ margin 0.02 but 95% lower bound -0.085 ≤ 0")]
    [InlineData("small win, neither condition holds", 70, 1, 0, 29, 0.02, false,
        "candidate 0.710 vs incumbent 0.700: +0.010 < margin 0.02 and 95% lower bound -0.010 ≤ 0")]
    [InlineData("loss", 60, 2, 12, 26, 0.02, false,
        "candidate 0.620 vs incumbent 0.720: -0.100 < margin 0.02 and 95% lower bound -0.171 ≤ 0")]
    [InlineData("tie on every pair", 60, 0, 0, 40, 0.0, false,
        "candidate 0.600 vs incumbent 0.600: 0.000 ≥ margin 0 but 95% lower bound 0.000 ≤ 0")]
    public void Gate_promotes_only_a_paired_win_at_least_the_margin_whose_interval_excludes_zero(
        string scenario, int bothRight, int candidateOnly, int incumbentOnly, int bothWrong, double margin,
        bool promote, string reason)
    {
        var (candidate, incumbent) = EvalSet(bothRight, candidateOnly, incumbentOnly, bothWrong);

        var decision = EvalGate.Decide(candidate, incumbent, margin);

        Assert.True(promote == decision.Promote, $"{scenario}: {decision.Reason}");
        Assert.Equal(reason, decision.Reason);
        Assert.Equal(candidate.Accuracy, decision.Candidate);
        Assert.Equal(incumbent.Accuracy, decision.Incumbent);
        Assert.Equal((double)(candidateOnly - incumbentOnly) / candidate.Count, decision.Difference, 12);
        Assert.NotNull(decision.Lower95);
    }

    [Fact]
    public void Candidate_without_an_incumbent_is_promoted()
    {
        var (candidate, _) = EvalSet(50, 10, 5, 35);

        var decision = EvalGate.Decide(candidate, incumbent: null, margin: 0.02);

        Assert.Equal(new GateDecision(true, 0.6, null, 0, null, "candidate 0.600 on 100 eval pairs; no incumbent to beat"), decision);
    }

    [Fact]
    public void Empty_eval_set_never_promotes_even_without_an_incumbent()
    {
        var decision = EvalGate.Decide(new PairwiseOutcomes([]), incumbent: null, margin: 0.02);

        Assert.False(decision.Promote);
        Assert.Contains("empty", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void One_shared_pair_is_too_few_for_an_interval()
    {
        var decision = EvalGate.Decide(
            new PairwiseOutcomes([new("p", true)]), new PairwiseOutcomes([new("p", false)]), margin: 0.02);

        Assert.False(decision.Promote);
        Assert.Null(decision.Lower95);
        Assert.Equal(1, decision.Difference);
    }

    [Theory]
    [InlineData("a different pair", new[] { "p1", "p2", "p3" }, new[] { "p1", "p2", "p4" })]
    [InlineData("a missing pair", new[] { "p1", "p2", "p3" }, new[] { "p1", "p2" })]
    [InlineData("an extra pair", new[] { "p1", "p2" }, new[] { "p1", "p2", "p3" })]
    public void Outcomes_over_different_pairs_are_refused(string scenario, string[] candidateIds, string[] incumbentIds)
    {
        var candidate = new PairwiseOutcomes(candidateIds.Select(id => new PairOutcome(id, true)));
        var incumbent = new PairwiseOutcomes(incumbentIds.Select(id => new PairOutcome(id, false)));

        var thrown = Assert.Throws<ArgumentException>(() => EvalGate.Decide(candidate, incumbent, 0.02));
        Assert.True(thrown.ParamName == "incumbent", scenario);
    }

    [Fact]
    public void Pairs_are_matched_by_id_not_by_position()
    {
        var candidate = new PairwiseOutcomes([new("a", true), new("b", true), new("c", false)]);
        var incumbent = new PairwiseOutcomes([new("c", false), new("b", true), new("a", false)]);

        var decision = EvalGate.Decide(candidate, incumbent, margin: 0);

        Assert.Equal(1.0 / 3, decision.Difference, 12);
    }

    [Fact]
    public void Accuracy_and_binomial_standard_error_come_from_the_outcomes()
    {
        var (candidate, _) = EvalSet(60, 20, 0, 20);

        Assert.Equal(0.8, candidate.Accuracy, 12);
        Assert.Equal(Math.Sqrt(0.8 * 0.2 / 100), candidate.StandardError, 12);
    }

    [Fact]
    public void A_pair_counted_twice_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new PairwiseOutcomes([new("p", true), new("p", false)]));
    }

    /// <summary>Outcomes of two models on one eval set, built from how they split its pairs.</summary>
    private static (PairwiseOutcomes Candidate, PairwiseOutcomes Incumbent) EvalSet(
        int bothRight, int candidateOnly, int incumbentOnly, int bothWrong)
    {
        var rows = Enumerable.Repeat((Candidate: true, Incumbent: true), bothRight)
            .Concat(Enumerable.Repeat((Candidate: true, Incumbent: false), candidateOnly))
            .Concat(Enumerable.Repeat((Candidate: false, Incumbent: true), incumbentOnly))
            .Concat(Enumerable.Repeat((Candidate: false, Incumbent: false), bothWrong))
            .Select((row, i) => (Id: $"pair-{i}", row.Candidate, row.Incumbent))
            .ToArray();
        return (new PairwiseOutcomes(rows.Select(r => new PairOutcome(r.Id, r.Candidate))),
                new PairwiseOutcomes(rows.Select(r => new PairOutcome(r.Id, r.Incumbent))));
    }
}
