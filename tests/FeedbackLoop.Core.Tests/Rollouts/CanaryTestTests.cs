using FeedbackLoop.Core.Rollouts;

namespace FeedbackLoop.Core.Tests.Rollouts;

/// <summary>The canary rule and the drop rule as tables: counts so far → the decision and the words that explain it.</summary>
public sealed class CanaryTestTests
{
    private static readonly SequentialTestOptions Options = new();

    public static TheoryData<string, ArmCounts, ArmCounts, CanaryVerdict, string> Table() => new()
    {
        { "too few shown on the canary", new(5000, 1500), new(150, 10), CanaryVerdict.Continue, "waiting for 200 shown per arm (stable 5000, canary 150)" },
        { "a clear regression: 30% → 20% on 2000 each", new(2000, 600), new(2000, 400), CanaryVerdict.RollBack, "canary engagement is lower: canary 0.200 (400 of 2000) vs stable 0.300 (600 of 2000)" },
        { "a clear improvement: 30% → 40% on 2000 each", new(2000, 600), new(2000, 800), CanaryVerdict.Promote, "canary is no worse than stable by more than 0.02" },
        { "equal rates, little data: continue", new(400, 120), new(400, 120), CanaryVerdict.Continue, "no decision yet: canary 0.300 (120 of 400) vs stable 0.300 (120 of 400)" },
        { "a one-point dip the test cannot tell from noise at the limit: promote by default", new(20_000, 6000), new(20_000, 5800), CanaryVerdict.Promote, "limit of 20000 shown per arm reached without a decision (promoting as configured)" },
        { "a two-point regression on 20,000 each", new(20_000, 6000), new(20_000, 5600), CanaryVerdict.RollBack, "canary engagement is lower: canary 0.280 (5600 of 20000)" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide(string situation, ArmCounts stable, ArmCounts canary, CanaryVerdict verdict, string words)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var decision = CanaryTest.Decide(stable, canary, Options);

        Assert.Equal(verdict, decision.Verdict);
        Assert.Contains(words, decision.Reason, StringComparison.Ordinal);
        Assert.Equal((stable, canary), (decision.Stable, decision.Canary));
    }

    [Fact]
    public void The_reason_states_the_rates_counts_and_interval_as_docs_ROLLOUT_md_shows_them()
    {
        var decision = CanaryTest.Decide(new(1400, 420), new(1400, 336), Options);

        Assert.Equal(
            "canary engagement is lower: canary 0.240 (336 of 1400) vs stable 0.300 (420 of 1400); difference -0.060 [-0.111, -0.009] (always-valid, alpha 0.05)",
            decision.Reason);
    }

    [Fact]
    public void At_the_limit_a_rollout_configured_to_roll_back_rolls_back()
    {
        var decision = CanaryTest.Decide(new(20_000, 6000), new(20_000, 5800), Options with { AtLimit = LimitOutcome.RollBack });

        Assert.Equal(CanaryVerdict.RollBack, decision.Verdict);
        Assert.Contains("rolling back as configured", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_interval_narrows_as_evidence_grows_and_always_holds_the_estimate()
    {
        var widths = new[] { 200L, 1000, 5000, 25_000 }.Select(n =>
        {
            var interval = SequentialTest.Interval(new(n, n * 3 / 10), new(n, n / 4), 0.05, 0.05);
            Assert.InRange(interval.Estimate, interval.Lower, interval.Upper);
            Assert.Equal(0.05, interval.Estimate, 3);
            return interval.Upper - interval.Lower;
        }).ToList();

        Assert.Equal(widths.OrderDescending(), widths);
    }

    [Fact]
    public void An_arm_with_no_engagement_yet_still_gets_an_interval_of_positive_width()
    {
        var interval = SequentialTest.Interval(new(300, 0), new(300, 0), 0.05, 0.05);

        Assert.True(interval.Upper > 0 && interval.Lower < 0, interval.ToString());
    }

    [Theory]
    [InlineData(0.0, 0.05, 200, 20_000, 0.02, "Alpha")]
    [InlineData(1.0, 0.05, 200, 20_000, 0.01, "Alpha")]
    [InlineData(0.05, 0.0, 200, 20_000, 0.01, "MixtureScale")]
    [InlineData(0.05, 0.05, 0, 20_000, 0.01, "MinShownPerArm")]
    [InlineData(0.05, 0.05, 200, 100, 0.01, "MaxShownPerArm")]
    [InlineData(0.05, 0.05, 200, 20_000, -0.01, "Margin")]
    public void Settings_the_guarantee_cannot_hold_with_are_refused_by_name(double alpha, double tau, long min, long max, double margin, string name)
    {
        var options = new SequentialTestOptions { Alpha = alpha, MixtureScale = tau, MinShownPerArm = min, MaxShownPerArm = max, Margin = margin };

        var refusal = Assert.Throws<ArgumentOutOfRangeException>(() => CanaryTest.Decide(new(1000, 300), new(1000, 300), options));

        Assert.Equal(name, refusal.ParamName);
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(10, 11)]
    [InlineData(10, -1)]
    public void Impossible_counts_are_refused(long shown, long engaged) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryTest.Decide(new(1000, 300), new(shown, engaged), Options));

    [Theory]
    [InlineData(5000, 1500, 5000, 1100, true, "engagement dropped: recent 0.220 (1100 of 5000) vs baseline 0.300 (1500 of 5000)")]
    [InlineData(5000, 1500, 5000, 1490, false, "no drop shown")]
    [InlineData(5000, 1500, 100, 10, false, "waiting for 200 shown per window")]
    public void The_drop_test_compares_the_stable_model_with_its_own_baseline(long baseShown, long baseEngaged, long recentShown, long recentEngaged, bool dropped, string words)
    {
        var decision = EngagementDropTest.Decide(new(baseShown, baseEngaged), new(recentShown, recentEngaged), Options);

        Assert.Equal(dropped, decision.Dropped);
        Assert.Contains(words, decision.Reason, StringComparison.Ordinal);
    }
}
