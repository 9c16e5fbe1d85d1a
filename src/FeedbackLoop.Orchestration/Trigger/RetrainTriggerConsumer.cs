using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// DatasetCommitted → maybe a run: when the app is registered and its committed pairs exceed those of its last run by
/// the pipeline's threshold, freeze a snapshot, start the run (one in flight per app) and offer its tuning job. A commit
/// for an app that is not registered is ignored before anything is read for it: no snapshot, run, model or promotion.
/// </summary>
internal sealed partial class RetrainTriggerConsumer(
    ModelRegistry registry, ISnapshotSource snapshots, PipelineDefinition pipeline, IRegisteredApps apps, UnregisteredAppCommits unregistered,
    RunReconciler runs, OrchestrationTelemetry telemetry, ILogger<RetrainTriggerConsumer> logger)
    : IConsumer<DatasetCommitted>
{
    public async Task Consume(ConsumeContext<DatasetCommitted> context)
    {
        var appId = context.Message.AppId;
        // Registration first, and the id's own rule too: the id names the dataset folder the snapshot would read.
        if (!AppIds.IsValid(appId) || !apps.IsRegistered(appId))
        {
            unregistered.Ignore(appId);
            return;
        }

        var app = pipeline.For(appId);
        var snapshot = await snapshots.CaptureAsync(appId, context.CancellationToken).ConfigureAwait(false);
        if (!RetrainPolicy.ShouldRetrain(snapshot.TotalPairs, registry.LastRunPairCount(appId), app.Retrain.MinNewPairs)) return;

        // Another run in flight: nothing starts, so nothing is frozen (a reviewed snapshot per commit would pile up).
        if (registry.RunningRuns().Any(r => r.AppId == appId && r.RunId != RetrainPolicy.RunId(appId, snapshot.TotalPairs))) return;
        snapshot = await snapshots.FreezeAsync(snapshot, context.CancellationToken).ConfigureAwait(false);

        var runId = RetrainPolicy.RunId(appId, snapshot.TotalPairs);
        if (!registry.TryStartRun(runId, appId, snapshot)) return; // a run is in flight, or this one exists already

        LogRunStarted(logger, runId, snapshot.TotalPairs);
        telemetry.RunStarted(appId);

        // The run's first span continues the trace of the commit that triggered it (or of this consume, when the message
        // came without one); its context is stored, so each later step of the run, after a restart too, joins the same trace.
        using (var span = OrchestrationTelemetry.StartRunSpan("run.start", TriggerTraceParent(context.Message), runId, appId))
        {
            span?.SetTag("feedbackloop.snapshot_pairs", snapshot.TotalPairs);
            if (span?.Id is { } traceParent)
            {
                registry.RecordTraceParent(runId, traceParent);
            }
        }

        await runs.AdvanceAsync(runId, context, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The trace the run continues: the commit's that the message names (checked: it is input), else this consume's.</summary>
    private static string? TriggerTraceParent(DatasetCommitted message) =>
        message.TraceParent is { } carried && TraceParent.IsValid(carried) ? carried : Activity.Current?.Id;

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on a snapshot of {Pairs} pairs")]
    private static partial void LogRunStarted(ILogger logger, string runId, long pairs);
}
