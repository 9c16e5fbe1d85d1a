using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// Starts an app's run when one is due: its committed pairs exceed those of its last run by the pipeline's threshold, no
/// other run of it is in flight, and (with the pipeline's <c>review.required</c>) enough of the new pairs were reviewed.
/// A run that must wait for review is recorded as a wait with its reason (<see cref="ReviewWaits"/>); the supervisor's
/// sweep counts the review again (review decisions are files, not messages), and the run starts once the share is met.
/// Every run then freezes a reviewed snapshot, so excluded pairs never train and the registry records which snapshot.
/// </summary>
internal sealed partial class RetrainStarter(
    ModelRegistry registry, ReviewWaits waits, ISnapshotSource snapshots, PipelineDefinition pipeline, IRegisteredApps apps, RunReconciler runs,
    TimeSpan recountInterval, OrchestrationTelemetry telemetry, TimeProvider clock, ILogger<RetrainStarter> logger)
{
    /// <summary>Starts the app's run if one is due and may start now; records or refreshes its wait if it must wait for review.</summary>
    /// <param name="appId">A registered app (the caller checks).</param>
    /// <param name="traceParent">The trace the run continues (the commit's), or null for the current activity's.</param>
    /// <param name="bus">Where the run's first job is offered.</param>
    /// <param name="cancellationToken">Stops the check.</param>
    public async Task ConsiderAsync<TBus>(string appId, string? traceParent, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint, ISendEndpointProvider
    {
        var app = pipeline.For(appId);
        var snapshot = await snapshots.CaptureAsync(appId, cancellationToken).ConfigureAwait(false);
        if (!RetrainPolicy.ShouldRetrain(snapshot.TotalPairs, registry.LastRunPairCount(appId), app.Retrain.MinNewPairs))
        {
            waits.End(appId); // nothing is due (the policy may have changed under a wait)
            return;
        }

        // Another run in flight: nothing starts, so nothing is frozen (a reviewed snapshot per commit would pile up).
        if (registry.RunningRuns().Any(r => r.AppId == appId && r.RunId != RetrainPolicy.RunId(appId, snapshot.TotalPairs))) return;

        if (app.Review.Required)
        {
            var history = registry.ListRuns(appId);
            var lastSnapshot = history.Count == 0 ? null : history[^1].Snapshot;
            var progress = await snapshots.ReviewProgressAsync(appId, lastSnapshot, cancellationToken).ConfigureAwait(false);
            var verdict = ReviewGate.Decide(required: true, app.Review.MinReviewedFraction, progress);
            if (!verdict.Proceed)
            {
                if (waits.Record(appId, progress, verdict, app.Review.MinReviewedFraction))
                {
                    LogWaiting(logger, appId, progress.ReviewedPairs, progress.NewPairs, verdict.Needed);
                }

                telemetry.ReviewWaited(appId);
                return;
            }
        }

        snapshot = await snapshots.FreezeAsync(snapshot, cancellationToken).ConfigureAwait(false);
        var runId = RetrainPolicy.RunId(appId, snapshot.TotalPairs);
        if (!registry.TryStartRun(runId, appId, snapshot)) return; // a run is in flight, or this one exists already

        waits.End(appId);
        LogRunStarted(logger, runId, snapshot.TotalPairs);
        telemetry.RunStarted(appId);

        // The run's first span continues the trace of the commit that triggered it (or of this check, when there was
        // none); its context is stored, so each later step of the run, after a restart too, joins the same trace.
        using (var span = OrchestrationTelemetry.StartRunSpan("run.start", traceParent ?? Activity.Current?.Id, runId, appId))
        {
            span?.SetTag("feedbackloop.snapshot_pairs", snapshot.TotalPairs);
            if (span?.Id is { } id)
            {
                registry.RecordTraceParent(runId, id);
            }
        }

        await runs.AdvanceAsync(runId, bus, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Counts the review of every waiting app again (at most every <c>recountInterval</c>, the orchestrator options' <c>ReviewRecountInterval</c>) and starts the runs whose share
    /// is now met; a wait of an app that left the pipeline, or whose pipeline no longer requires review, is re-decided too.
    /// </summary>
    public async Task RecheckWaitsAsync(IBus bus, CancellationToken cancellationToken)
    {
        foreach (var wait in waits.All())
        {
            if (!AppIds.IsValid(wait.AppId) || !apps.IsRegistered(wait.AppId))
            {
                waits.End(wait.AppId);
                continue;
            }

            if (clock.GetUtcNow() - wait.CheckedAt < recountInterval && pipeline.For(wait.AppId).Review.Required) continue;
            await ConsiderAsync(wait.AppId, null, bus, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on a snapshot of {Pairs} pairs")]
    private static partial void LogRunStarted(ILogger logger, string runId, long pairs);

    [LoggerMessage(Level = LogLevel.Information, Message = "A run of {AppId} waits for review: {Reviewed} of {New} new pairs reviewed, {Needed} needed")]
    private static partial void LogWaiting(ILogger logger, string appId, long reviewed, long @new, long needed);
}
