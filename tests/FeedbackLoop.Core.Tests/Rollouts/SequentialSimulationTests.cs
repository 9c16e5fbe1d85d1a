using System.Globalization;
using FeedbackLoop.Core.Rollouts;
using Xunit.Abstractions;

namespace FeedbackLoop.Core.Tests.Rollouts;

/// <summary>
/// Seeded simulations of whole rollouts, looking after every batch of sessions: the error rate the test promises holds
/// over all those looks (where a fixed-sample z-test looked at as often does not), and its power on a known regression
/// (the numbers quoted in docs/adr/0019-sequential-test-for-rollouts.md come from these runs).
/// </summary>
public sealed class SequentialSimulationTests(ITestOutputHelper output)
{
    private const int Rollouts = 1000;
    private const int Batch = 100; // shown per arm between two looks: 200 looks up to the 20,000 limit
    private static readonly SequentialTestOptions Options = new();

    [Fact]
    public void A_canary_as_good_as_stable_is_rolled_back_at_most_alpha_of_the_time_over_200_looks()
    {
        var result = Simulate(stableRate: 0.30, canaryRate: 0.30, seed: 1);
        Report("A/A 0.30 vs 0.30", result);

        // The binomial standard error of the estimate at 1000 rollouts is under 0.007; the bound itself is what is promised.
        Assert.True(result.RolledBackEarly + result.RolledBackAtLimit <= Options.Alpha, $"false rollbacks {result} > alpha {Options.Alpha}");
    }

    [Fact]
    public void A_fixed_sample_z_test_looked_at_as_often_rolls_back_far_more_often_than_its_nominal_5_percent()
    {
        // The reason for the sequential test: peeking at a 95% z-test after every batch "finds" regressions in A/A.
        var random = new Random(2);
        var falseAlarms = 0;
        for (var r = 0; r < Rollouts; r++)
        {
            long stable = 0, canary = 0, shown = 0;
            while (shown < Options.MaxShownPerArm)
            {
                shown += Batch;
                stable += Draw(random, Batch, 0.30);
                canary += Draw(random, Batch, 0.30);
                var ps = (double)stable / shown;
                var pc = (double)canary / shown;
                var se = Math.Sqrt((ps * (1 - ps) / shown) + (pc * (1 - pc) / shown));
                if (shown >= Options.MinShownPerArm && (pc - ps) / se < -1.96)
                {
                    falseAlarms++;
                    break;
                }
            }
        }

        var rate = (double)falseAlarms / Rollouts;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"naive z-test after every batch, A/A: one-sided false alarms {rate:0.000}"));
        Assert.True(rate > 2 * Options.Alpha, $"{rate}");
    }

    [Fact]
    public void A_five_point_regression_is_rolled_back_nearly_always_and_early()
    {
        var result = Simulate(stableRate: 0.30, canaryRate: 0.25, seed: 3);
        Report("regression 0.30 → 0.25", result);

        Assert.True(result.RolledBackEarly >= 0.99, $"power {result.RolledBackEarly:0.000}");
        Assert.Equal(0, result.Promoted);
        Assert.True(result.MedianShownAtDecision <= 3000, $"median {result.MedianShownAtDecision}");
    }

    [Fact]
    public void A_two_point_regression_is_mostly_rolled_back_within_the_limit_and_promoted_early_at_most_alpha_of_the_time()
    {
        var result = Simulate(stableRate: 0.30, canaryRate: 0.28, seed: 4);
        Report("regression 0.30 → 0.28", result);

        Assert.True(result.Promoted - result.PromotedAtLimit <= Options.Alpha, $"promoted early {result}");
        Assert.True(result.RolledBackEarly >= 0.85, $"{result}");
    }

    [Fact]
    public void A_better_canary_is_promoted_and_not_rolled_back_beyond_alpha()
    {
        var result = Simulate(stableRate: 0.30, canaryRate: 0.33, seed: 5);
        Report("improvement 0.30 → 0.33", result);

        Assert.True(result.Promoted >= 0.95, $"promoted {result.Promoted:0.000}");
        Assert.True(result.RolledBackEarly <= Options.Alpha, $"rolled back {result.RolledBackEarly:0.000}");
    }

    [Fact]
    public void The_drop_test_on_a_steady_model_raises_a_false_alarm_at_most_alpha_of_the_time()
    {
        var random = new Random(6);
        var alarms = 0;
        for (var r = 0; r < Rollouts; r++)
        {
            // A fixed baseline window, and a recent window that grows and is looked at after every batch.
            var baseline = new ArmCounts(5000, Draw(random, 5000, 0.30));
            long recent = 0, shown = 0;
            while (shown < Options.MaxShownPerArm)
            {
                shown += Batch;
                recent += Draw(random, Batch, 0.30);
                if (EngagementDropTest.Decide(baseline, new ArmCounts(shown, recent), Options).Dropped)
                {
                    alarms++;
                    break;
                }
            }
        }

        var rate = (double)alarms / Rollouts;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"drop test, steady 0.30: false alarms {rate:0.000}"));
        Assert.True(rate <= Options.Alpha, $"{rate}");
    }

    private sealed record Outcome(double RolledBackEarly, double RolledBackAtLimit, double Promoted, double PromotedAtLimit, long MedianShownAtDecision);

    private static Outcome Simulate(double stableRate, double canaryRate, int seed)
    {
        var random = new Random(seed);
        int early = 0, limit = 0, promoted = 0, promotedAtLimit = 0;
        var decidedAt = new List<long>();
        for (var r = 0; r < Rollouts; r++)
        {
            var stable = new ArmCounts(0, 0);
            var canary = new ArmCounts(0, 0);
            while (true)
            {
                stable = new ArmCounts(stable.Shown + Batch, stable.Engaged + Draw(random, Batch, stableRate));
                canary = new ArmCounts(canary.Shown + Batch, canary.Engaged + Draw(random, Batch, canaryRate));
                var decision = CanaryTest.Decide(stable, canary, Options);
                if (decision.Verdict == CanaryVerdict.Continue)
                {
                    continue;
                }

                var atLimit = decision.Reason.StartsWith("limit", StringComparison.Ordinal);
                switch (decision.Verdict, atLimit)
                {
                    case (CanaryVerdict.RollBack, true):
                        limit++;
                        break;
                    case (CanaryVerdict.RollBack, false):
                        early++;
                        break;
                    case (_, true):
                        promoted++;
                        promotedAtLimit++;
                        break;
                    default:
                        promoted++;
                        break;
                }

                decidedAt.Add(canary.Shown);
                break;
            }
        }

        decidedAt.Sort();
        return new Outcome((double)early / Rollouts, (double)limit / Rollouts, (double)promoted / Rollouts, (double)promotedAtLimit / Rollouts,
            decidedAt[decidedAt.Count / 2]);
    }

    private void Report(string name, Outcome result) => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name}: rolled back early {result.RolledBackEarly:0.000}, at the limit {result.RolledBackAtLimit:0.000}, promoted {result.Promoted:0.000} (at the limit {result.PromotedAtLimit:0.000}), median shown per arm at the decision {result.MedianShownAtDecision}"));

    private static long Draw(Random random, int trials, double rate)
    {
        long hits = 0;
        for (var i = 0; i < trials; i++)
        {
            if (random.NextDouble() < rate)
            {
                hits++;
            }
        }

        return hits;
    }
}
