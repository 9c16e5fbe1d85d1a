using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Pipelines;
using FeedbackLoop.Orchestration.Registry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Bus;

/// <summary>Where runs put their model artifacts.</summary>
public sealed record LoopPaths(string ArtifactsRoot)
{
    /// <summary>The artifact folder of a model version.</summary>
    public string ArtifactOf(string version) => Path.Combine(ArtifactsRoot, version);
}

/// <summary>
/// DatasetCommitted → maybe a run: when the app's committed pairs exceed those of its last run by the
/// pipeline's threshold, freeze a snapshot, start the run (one in flight per app) and send TuneModel.
/// </summary>
internal sealed partial class RetrainTriggerConsumer(
    ModelRegistry registry, ISnapshotSource snapshots, PipelineDefinition pipeline, ILogger<RetrainTriggerConsumer> logger) : IConsumer<DatasetCommitted>
{
    public async Task Consume(ConsumeContext<DatasetCommitted> context)
    {
        var appId = context.Message.AppId;
        var app = pipeline.For(appId);
        var snapshot = await snapshots.CaptureAsync(appId, context.CancellationToken).ConfigureAwait(false);
        if (!RetrainPolicy.ShouldRetrain(snapshot.TotalPairs, registry.LastRunPairCount(appId), app.Retrain.MinNewPairs)) return;

        var runId = RetrainPolicy.RunId(appId, snapshot.TotalPairs);
        var runSnapshot = new RunSnapshot(snapshot.Files.Select(f => new Registry.SnapshotFile(f.Path, f.Rows)).ToList(), snapshot.TotalPairs);
        if (!registry.TryStartRun(runId, appId, runSnapshot)) return; // a run is in flight, or this one exists already

        var parent = registry.CurrentModel(appId)?.Version;
        LogRunStarted(logger, runId, snapshot.TotalPairs);
        await context.Send(new TuneModel(
            runId, appId, RetrainPolicy.CandidateVersion(appId, snapshot.TotalPairs), parent,
            snapshot.Files.Select(f => new SnapshotFileRef(f.Path, f.Rows)).ToList(), app.Trainer.Seed, app.Split.EvalFraction)).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on a snapshot of {Pairs} pairs")]
    private static partial void LogRunStarted(ILogger logger, string runId, long pairs);
}

/// <summary>TuneModel → a trained, registered candidate, then EvaluateCandidate; failures end the run.</summary>
internal sealed partial class TuningConsumer(
    ModelRegistry registry, ISnapshotSource snapshots, IRewardModelTrainer trainer, LoopPaths paths, TimeProvider clock,
    ILogger<TuningConsumer> logger) : IConsumer<TuneModel>
{
    public async Task Consume(ConsumeContext<TuneModel> context)
    {
        var job = context.Message;
        if (registry.GetModel(job.CandidateVersion) is not null) return; // redelivered: already trained
        try
        {
            var snapshot = new DatasetSnapshot(job.AppId, job.Files.Select(f => new Core.Tuning.SnapshotFile(f.Path, f.Rows)).ToList());
            var pairs = await snapshots.ReadAsync(snapshot, context.CancellationToken).ConfigureAwait(false);
            var train = pairs.Where(p => !TrainEvalSplit.IsEval(p.PairId, job.EvalFraction)).ToList();
            var artifact = paths.ArtifactOf(job.CandidateVersion);
            var metrics = await trainer.TrainAsync(train, job.Seed, job.CandidateVersion, artifact, context.CancellationToken).ConfigureAwait(false);
            registry.RegisterCandidate(new ModelVersionRecord(
                job.CandidateVersion, job.AppId, job.ParentVersion, job.RunId, SnapshotJson(job), artifact,
                $$"""{"train_pairs":{{metrics.TrainPairs}},"train_accuracy":{{metrics.TrainAccuracy.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}},"seconds":{{metrics.Seconds.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)}}}""",
                ModelStatus.Candidate, clock.GetUtcNow()));
            LogTrained(logger, job.CandidateVersion, metrics.TrainPairs, metrics.TrainAccuracy);
            await context.Publish(new TuningCompleted(job.RunId, job.AppId, job.CandidateVersion, metrics.TrainPairs, metrics.TrainAccuracy)).ConfigureAwait(false);
            await context.Send(new EvaluateCandidate(job.RunId, job.AppId, job.CandidateVersion)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IOException)
        {
            registry.CompleteRun(job.RunId, RunStatus.Failed, ex.Message);
            await context.Publish(new TuningFailed(job.RunId, job.AppId, ex.Message)).ConfigureAwait(false);
        }
    }

    private static string SnapshotJson(TuneModel job) =>
        System.Text.Json.JsonSerializer.Serialize(job.Files.Select(f => new Dictionary<string, object> { ["path"] = f.Path, ["rows"] = f.Rows }));

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} trained on {Pairs} pairs (train accuracy {Accuracy:0.000})")]
    private static partial void LogTrained(ILogger logger, string version, int pairs, double accuracy);
}

/// <summary>
/// EvaluateCandidate → both models scored on the run's held-out pairs, the gate decides, the decision is
/// recorded, and the candidate is promoted or rejected; the run ends either way.
/// </summary>
internal sealed partial class EvaluationConsumer(
    ModelRegistry registry, ISnapshotSource snapshots, IPairwiseEvaluator evaluator, PipelineDefinition pipeline, TimeProvider clock,
    ILogger<EvaluationConsumer> logger) : IConsumer<EvaluateCandidate>
{
    public async Task Consume(ConsumeContext<EvaluateCandidate> context)
    {
        var job = context.Message;
        var candidate = registry.GetModel(job.CandidateVersion) ?? throw new InvalidOperationException($"candidate {job.CandidateVersion} is not registered");
        if (candidate.Status != ModelStatus.Candidate) return; // redelivered: already decided

        var run = registry.GetRun(job.RunId) ?? throw new InvalidOperationException($"run {job.RunId} is unknown");
        var app = pipeline.For(job.AppId);
        var snapshot = new DatasetSnapshot(job.AppId, run.Snapshot.Files.Select(f => new Core.Tuning.SnapshotFile(f.Path, f.Rows)).ToList());
        var pairs = await snapshots.ReadAsync(snapshot, context.CancellationToken).ConfigureAwait(false);
        var eval = pairs.Where(p => TrainEvalSplit.IsEval(p.PairId, app.Split.EvalFraction)).ToList();

        var candidateOutcomes = await evaluator.EvaluateAsync(candidate.ArtifactPath, eval, context.CancellationToken).ConfigureAwait(false);
        var incumbent = registry.CurrentModel(job.AppId);
        var incumbentOutcomes = incumbent is null ? null : await evaluator.EvaluateAsync(incumbent.ArtifactPath, eval, context.CancellationToken).ConfigureAwait(false);
        var gate = EvalGate.Decide(candidateOutcomes, incumbentOutcomes, app.Gate.Margin);
        // The standard errors go into the recorded reason, so the registry shows how sure each number is.
        var decision = gate with
        {
            Reason = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{gate.Reason} (n={candidateOutcomes.Count}; SE candidate {candidateOutcomes.StandardError:0.000}{(incumbentOutcomes is null ? "" : $", incumbent {incumbentOutcomes.StandardError:0.000}")})"),
        };

        registry.RecordDecision(job.CandidateVersion, decision.Promote, decision.Candidate, decision.Incumbent, decision.Difference, decision.Lower95, decision.Reason, clock.GetUtcNow());
        LogDecision(logger, job.CandidateVersion, decision.Promote ? "promoted" : "rejected", decision.Reason);
        // The registry is the source of truth: it is complete before anyone hears about the outcome.
        if (decision.Promote) registry.Promote(job.CandidateVersion);
        registry.CompleteRun(job.RunId, RunStatus.Completed, decision.Reason);
        if (decision.Promote)
            await context.Publish(new ModelPromoted(job.AppId, job.CandidateVersion, incumbent?.Version, candidate.ArtifactPath)).ConfigureAwait(false);
        else
            await context.Publish(new CandidateRejected(job.AppId, job.CandidateVersion, decision.Reason)).ConfigureAwait(false);
        await context.Publish(new EvaluationCompleted(job.RunId, job.AppId, job.CandidateVersion, incumbent?.Version, eval.Count,
            decision.Candidate, decision.Incumbent, decision.Promote, decision.Reason)).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} {Outcome}: {Reason}")]
    private static partial void LogDecision(ILogger logger, string version, string outcome, string reason);
}
