using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Rollouts;

/// <summary>
/// Looks at every active rollout: counts its two arms from the app's engagement datasets (<see cref="RolloutArms"/>),
/// asks the pure <see cref="RolloutPolicy"/>, and stores the decision; a promotion or rollback is then announced from the
/// store by the orchestrator's sweep (ADR 0020). An extension is stored only when the counts moved since the last one, so
/// a quiet app does not add a row per look. Holds no state: a restarted orchestrator looks again from the store and the
/// datasets, and the test is a function of the counts, so a repeated look decides the same.
/// </summary>
public sealed partial class RolloutMonitor(
    ModelRegistry registry,
    Func<string, CancellationToken, Task<IReadOnlyList<EngagementTotal>>> engagement,
    SequentialTestOptions test,
    OrchestrationTelemetry telemetry,
    TimeProvider clock,
    ILogger<RolloutMonitor> logger)
{
    /// <summary>One look at every active rollout; returns the decisions stored (extensions included).</summary>
    public async Task<IReadOnlyList<(RolloutRecord Rollout, RolloutDecision Decision)>> LookAsync(CancellationToken cancellationToken)
    {
        var stored = new List<(RolloutRecord, RolloutDecision)>();
        foreach (var rollout in registry.ActiveRollouts())
        {
            var totals = await engagement(rollout.AppId, cancellationToken).ConfigureAwait(false);
            var (stable, canary) = RolloutArms.Count(totals, rollout.Version, rollout.StableVersion, rollout.StartedAt);
            var decision = RolloutPolicy.Decide(stable, canary, clock.GetUtcNow() - rollout.StartedAt, rollout.MaxDuration, test);
            var earlier = registry.RolloutDecisions(rollout.RolloutId);
            if (decision.Step == RolloutStep.Extend && earlier.Count > 0
                && earlier[^1] is { Stable: { } lastStable, Canary: { } lastCanary } && lastStable == stable && lastCanary == canary)
            {
                continue;
            }

            if (registry.RecordRolloutDecision(rollout.RolloutId, decision))
            {
                stored.Add((rollout, decision));
                telemetry.RolloutDecided(rollout.AppId, decision.Step switch { RolloutStep.Promote => "promote", RolloutStep.RollBack => "rollback", _ => "extend" });
                if (decision.Step != RolloutStep.Extend)
                {
                    LogEnded(logger, rollout.RolloutId, decision.Step == RolloutStep.Promote ? "promoted" : "rolled back", decision.Reason);
                }
            }
        }

        return stored;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} {Outcome}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string rolloutId, string outcome, string reason);
}
