using FeedbackLoop.Core.Rollouts;

namespace FeedbackLoop.Core.Tests.Rollouts;

/// <summary>The rollout rule as a table: counts so far and time elapsed → promote, roll back or extend, with its words.</summary>
public sealed class RolloutPolicyTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromHours(24);

    public static TheoryData<string, ArmCounts, ArmCounts, double, LimitOutcome, RolloutStep, string> Table() => new()
    {
        { "a clear regression rolls back at once", new(2000, 600), new(2000, 400), 1, LimitOutcome.Promote, RolloutStep.RollBack, "canary engagement is lower: canary 0.200 (400 of 2000)" },
        { "a clear improvement promotes at once", new(2000, 600), new(2000, 800), 1, LimitOutcome.Promote, RolloutStep.Promote, "canary is no worse than stable by more than 0.02" },
        { "undecided before the time limit: extend", new(400, 120), new(400, 120), 23.9, LimitOutcome.Promote, RolloutStep.Extend, "no decision yet: canary 0.300 (120 of 400)" },
        { "too few sessions before the time limit: extend", new(50, 10), new(5, 1), 2, LimitOutcome.RollBack, RolloutStep.Extend, "waiting for 200 shown per arm (stable 50, canary 5)" },
        { "undecided at the time limit: promote as configured", new(400, 120), new(400, 120), 24, LimitOutcome.Promote, RolloutStep.Promote, "time limit of 24h reached without a decision (promoting as configured): no decision yet" },
        { "undecided at the time limit: roll back as configured", new(400, 120), new(400, 120), 30, LimitOutcome.RollBack, RolloutStep.RollBack, "time limit of 24h reached without a decision (rolling back as configured)" },
        { "too few sessions at the time limit still ends it", new(50, 10), new(5, 1), 25, LimitOutcome.Promote, RolloutStep.Promote, "time limit of 24h reached without a decision (promoting as configured): waiting for 200 shown per arm" },
        { "evidence beats the time limit: a regression found late still rolls back", new(2000, 600), new(2000, 400), 48, LimitOutcome.Promote, RolloutStep.RollBack, "canary engagement is lower" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide(string situation, ArmCounts stable, ArmCounts canary, double hours, LimitOutcome atLimit, RolloutStep step, string words)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var decision = RolloutPolicy.Decide(stable, canary, TimeSpan.FromHours(hours), Limit, new SequentialTestOptions { AtLimit = atLimit });

        Assert.Equal(step, decision.Step);
        Assert.Contains(words, decision.Reason, StringComparison.Ordinal);
        Assert.Equal((stable, canary), (decision.Test.Stable, decision.Test.Canary));
    }

    [Fact]
    public void A_time_limit_of_zero_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RolloutPolicy.Decide(new(1, 0), new(1, 0), TimeSpan.Zero, TimeSpan.Zero, new SequentialTestOptions()));
    }
}
