using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// DatasetCommitted → maybe a run: when the app's committed pairs exceed those of its last run by the
/// pipeline's threshold, freeze a snapshot, start the run (one in flight per app) and offer its tuning job.
/// </summary>
internal sealed partial class RetrainTriggerConsumer(
    ModelRegistry registry, ISnapshotSource snapshots, PipelineDefinition pipeline, RunReconciler runs, ILogger<RetrainTriggerConsumer> logger)
    : IConsumer<DatasetCommitted>
{
    public async Task Consume(ConsumeContext<DatasetCommitted> context)
    {
        var appId = context.Message.AppId;
        var app = pipeline.For(appId);
        var snapshot = await snapshots.CaptureAsync(appId, context.CancellationToken).ConfigureAwait(false);
        if (!RetrainPolicy.ShouldRetrain(snapshot.TotalPairs, registry.LastRunPairCount(appId), app.Retrain.MinNewPairs)) return;

        var runId = RetrainPolicy.RunId(appId, snapshot.TotalPairs);
        if (!registry.TryStartRun(runId, appId, snapshot)) return; // a run is in flight, or this one exists already

        LogRunStarted(logger, runId, snapshot.TotalPairs);
        await runs.AdvanceAsync(runId, context, context.CancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on a snapshot of {Pairs} pairs")]
    private static partial void LogRunStarted(ILogger logger, string runId, long pairs);
}
