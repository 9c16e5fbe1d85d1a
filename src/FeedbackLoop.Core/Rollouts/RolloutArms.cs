using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Core.Rollouts;

/// <summary>
/// The two arms of a rollout, counted from the engagement datasets (issue 14, item 3): outputs shown and thumbs up of
/// the canary version served as <c>canary</c>, and of the stable version served as <c>stable</c>, in windows that
/// started at or after the rollout did. Only the rollout's own variants count: the stable model's engagement from before
/// the rollout, or from sessions that were not assigned in it, was not concurrent and randomly split, which the test's
/// guarantee needs.
/// </summary>
public static class RolloutArms
{
    /// <summary>The variant name of the stable arm, as the resolver and <c>generation.shown</c> spell it.</summary>
    public const string StableVariant = "stable";

    /// <summary>The variant name of the canary arm.</summary>
    public const string CanaryVariant = "canary";

    /// <summary>The (stable, canary) counts of a rollout.</summary>
    /// <param name="totals">The app's engagement totals (one per model version, variant and window).</param>
    /// <param name="canaryVersion">The canary's version.</param>
    /// <param name="stableVersion">The stable model's version.</param>
    /// <param name="since">When the rollout started: earlier windows do not count.</param>
    public static (ArmCounts Stable, ArmCounts Canary) Count(IEnumerable<EngagementTotal> totals, string canaryVersion, string stableVersion, DateTimeOffset since)
    {
        ArgumentNullException.ThrowIfNull(totals);
        long stableShown = 0, stableUp = 0, canaryShown = 0, canaryUp = 0;
        foreach (var window in totals)
        {
            if (window.WindowStart < since)
            {
                continue;
            }

            if (window.ModelVersion == canaryVersion && window.Variant == CanaryVariant)
            {
                canaryShown += window.Shown;
                canaryUp += window.ThumbsUp;
            }
            else if (window.ModelVersion == stableVersion && window.Variant == StableVariant)
            {
                stableShown += window.Shown;
                stableUp += window.ThumbsUp;
            }
        }

        // A thumbs up on an output shown in an earlier window can land in a later one: never more engaged than shown.
        return (new ArmCounts(stableShown, Math.Min(stableUp, stableShown)), new ArmCounts(canaryShown, Math.Min(canaryUp, canaryShown)));
    }
}
