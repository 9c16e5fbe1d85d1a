using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Core.Tests.Gating;

/// <summary>The gate on summaries (accuracy, standard error, n) as a table, for evaluators that do not report each pair.</summary>
public sealed class SummaryGateTests
{
    [Theory]
    // scenario,                       candidate, SE,   incumbent, SE,  n,   margin, promote, reason
    [InlineData("clear win", 0.85, 0.036, 0.72, 0.045, 100, 0.02, true,
        "candidate 0.850 vs incumbent 0.720: +0.130 ≥ margin 0.02 and 95% lower bound +0.017 > 0 (unpaired: per-pair outcomes not reported)")]
    [InlineData("win above the margin, interval includes zero", 0.568, 0.030, 0.520, 0.031, 266, 0.02, false,
        "candidate 0.568 vs incumbent 0.520: +0.048 ≥ margin 0.02 but 95% lower bound -0.037 ≤ 0 (unpaired: per-pair outcomes not reported)")]
    [InlineData("sure but below the margin", 0.815, 0.001, 0.800, 0.001, 100000, 0.02, false,
        "candidate 0.815 vs incumbent 0.800: +0.015 < margin 0.02 but 95% lower bound +0.012 > 0 (unpaired: per-pair outcomes not reported)")]
    [InlineData("loss", 0.6, 0.05, 0.7, 0.05, 100, 0.02, false,
        "candidate 0.600 vs incumbent 0.700: -0.100 < margin 0.02 and 95% lower bound -0.239 ≤ 0 (unpaired: per-pair outcomes not reported)")]
    public void Promotes_only_a_win_at_least_the_margin_whose_unpaired_interval_excludes_zero(
        string scenario, double candidate, double candidateSe, double incumbent, double incumbentSe, int n, double margin, bool promote, string reason)
    {
        var decision = EvalGate.DecideOnSummaries(new AccuracySummary(candidate, candidateSe, n), new AccuracySummary(incumbent, incumbentSe, n), margin);

        Assert.True(promote == decision.Promote, $"{scenario}: {decision.Reason}");
        Assert.Equal(reason, decision.Reason);
        Assert.Equal(candidate - incumbent, decision.Difference, 12);
    }

    [Fact]
    public void The_unpaired_interval_is_never_narrower_than_the_paired_one_on_the_same_pairs()
    {
        // 100 pairs: both right on 70, candidate only on 15, incumbent only on 2, both wrong on 13.
        var candidateOutcomes = new PairwiseOutcomes(Enumerable.Range(0, 100).Select(i => new PairOutcome($"p{i}", i < 85)));
        var incumbentOutcomes = new PairwiseOutcomes(Enumerable.Range(0, 100).Select(i => new PairOutcome($"p{i}", i < 70 || (i >= 85 && i < 87))));

        var paired = EvalGate.Decide(candidateOutcomes, incumbentOutcomes, 0.02);
        var unpaired = EvalGate.DecideOnSummaries(AccuracySummary.Of(candidateOutcomes), AccuracySummary.Of(incumbentOutcomes), 0.02);

        Assert.Equal(paired.Difference, unpaired.Difference, 12);
        Assert.True(unpaired.Lower95 < paired.Lower95, $"unpaired {unpaired.Lower95} vs paired {paired.Lower95}");
    }

    [Fact]
    public void Without_an_incumbent_a_measured_candidate_passes_and_an_unmeasured_one_does_not()
    {
        Assert.True(EvalGate.DecideOnSummaries(new AccuracySummary(0.3, 0.1, 20), null, 0.02).Promote);
        Assert.False(EvalGate.DecideOnSummaries(new AccuracySummary(0, 0, 0), null, 0.02).Promote);
    }

    [Theory]
    [InlineData(0.8, 0.04, 100, 0.7, 0.05, 99)]
    [InlineData(1.5, 0.04, 100, 0.7, 0.05, 100)]
    [InlineData(0.8, -0.1, 100, 0.7, 0.05, 100)]
    [InlineData(0.8, 0.04, 100, double.NaN, 0.05, 100)]
    public void Summaries_of_different_pair_sets_or_out_of_range_are_refused(double c, double cse, int cn, double i, double ise, int inum)
    {
        Assert.Throws<ArgumentException>(() => EvalGate.DecideOnSummaries(new AccuracySummary(c, cse, cn), new AccuracySummary(i, ise, inum), 0.02));
    }
}
