using System.Globalization;

namespace FeedbackLoop.Core.Rollouts;

/// <summary>What a rollout does after one look.</summary>
public enum RolloutStep
{
    /// <summary>Keep the split and look again: the test has not decided and the time limit is not reached.</summary>
    Extend,

    /// <summary>Serve the canary to everyone.</summary>
    Promote,

    /// <summary>Put the stable model back for everyone.</summary>
    RollBack,
}

/// <summary>The rollout's decision at one look, with the test's numbers and a reason that states them.</summary>
/// <param name="Step">Extend, promote or roll back.</param>
/// <param name="Reason">Why, with the rates, counts and interval (and the time limit when it decided).</param>
/// <param name="Test">The sequential test's own decision at this look.</param>
public sealed record RolloutDecision(RolloutStep Step, string Reason, CanaryDecision Test);

/// <summary>
/// The rollout rule (issue 14, item 3), pure: the sequential canary test decides when it can; a rollout that reaches its
/// time limit before the test decided ends the way <see cref="SequentialTestOptions.AtLimit"/> says, the same as at the
/// sample limit, so a slow app's canary cannot hold half its traffic for ever. The time limit adds no looks the test's
/// guarantee does not already cover: it only stops looking.
/// </summary>
public static class RolloutPolicy
{
    /// <summary>The decision after the counts so far, <paramref name="elapsed"/> after the rollout started.</summary>
    /// <param name="stable">The stable model's engagement on the rollout's sessions.</param>
    /// <param name="canary">The canary's engagement on the rollout's sessions.</param>
    /// <param name="elapsed">How long the rollout has run.</param>
    /// <param name="timeLimit">The longest a rollout may run before it ends without the test's decision.</param>
    /// <param name="options">The sequential test's settings.</param>
    public static RolloutDecision Decide(ArmCounts stable, ArmCounts canary, TimeSpan elapsed, TimeSpan timeLimit, SequentialTestOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeLimit, TimeSpan.Zero);
        var test = CanaryTest.Decide(stable, canary, options);
        switch (test.Verdict)
        {
            case CanaryVerdict.Promote:
                return new RolloutDecision(RolloutStep.Promote, test.Reason, test);
            case CanaryVerdict.RollBack:
                return new RolloutDecision(RolloutStep.RollBack, test.Reason, test);
        }

        if (elapsed < timeLimit)
        {
            return new RolloutDecision(RolloutStep.Extend, test.Reason, test);
        }

        var step = options.AtLimit == LimitOutcome.Promote ? RolloutStep.Promote : RolloutStep.RollBack;
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"time limit of {Durations(timeLimit)} reached without a decision ({(step == RolloutStep.Promote ? "promoting" : "rolling back")} as configured): {test.Reason}");
        return new RolloutDecision(step, reason, test);
    }

    private static string Durations(TimeSpan span) => span.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#}h")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0.#}m");
}
