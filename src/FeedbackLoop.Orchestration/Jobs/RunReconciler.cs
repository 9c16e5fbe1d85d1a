using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Bus;
using FeedbackLoop.Orchestration.Pipelines;
using FeedbackLoop.Orchestration.Registry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>
/// Moves a run forward from what the store holds, never from what a message said: no tuning job → create and offer
/// it; tuning done → register the candidate and create the eval job; eval done → gate, record, promote (or hold for
/// sign-off) and end the run; a job that failed for good → end the run. Each step is idempotent, so the consumers
/// call it after every recorded report and the supervisor calls it for every running run on each sweep: a step lost
/// to a crash between two writes is simply taken again.
/// </summary>
internal sealed partial class RunReconciler(
    ModelRegistry registry, JobStore jobs, PipelineDefinition pipeline, LoopPaths paths, OrchestratorOptions options,
    TimeProvider clock, ILogger<RunReconciler> logger) : IDisposable
{
    // One advance at a time: the steps are idempotent anyway, this only spares the duplicate work of a consumer and
    // the sweep advancing the same run together. Advancing is store work only (no training), so it is quick.
    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();

    /// <summary>Takes every step the run's stored state allows now.</summary>
    public async Task AdvanceAsync<TBus>(string runId, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint, ISendEndpointProvider
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await StepAsync(runId, bus, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Offers <paramref name="jobId"/> if its offer is due.</summary>
    public async Task OfferIfDueAsync(string jobId, ISendEndpointProvider bus, CancellationToken cancellationToken)
    {
        if (jobs.TryOffer(jobId, options.OfferAgainAfter) is { } offer)
        {
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.Jobs)).ConfigureAwait(false);
            await endpoint.Send(offer, cancellationToken).ConfigureAwait(false);
            LogOffered(logger, offer.JobId, offer.Attempt);
        }
    }

    private async Task StepAsync<TBus>(string runId, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint, ISendEndpointProvider
    {
        if (registry.GetRun(runId) is not { Status: RunStatus.Running } run)
        {
            return;
        }

        var version = RetrainPolicy.CandidateVersion(run.AppId, run.Snapshot.TotalPairs);
        var tune = jobs.Get(JobIds.Tune(runId));
        if (tune is null)
        {
            jobs.Create(JobPlanner.Tune(run, version, registry.CurrentModel(run.AppId)?.Version, pipeline, paths));
            await OfferIfDueAsync(JobIds.Tune(runId), bus, cancellationToken).ConfigureAwait(false);
            return;
        }

        switch (tune.State)
        {
            case JobState.Pending or JobState.Offered or JobState.Running:
                return;
            case JobState.Failed or JobState.Cancelled:
                var reason = $"tuning {JobRules.Text(tune.State)}: {tune.Reason}";
                if (registry.CompleteRun(runId, RunStatus.Failed, reason))
                {
                    LogRunFailed(logger, runId, reason);
                    await bus.Publish(new TuningFailed(runId, run.AppId, reason), cancellationToken).ConfigureAwait(false);
                }

                return;
        }

        var candidate = registry.GetModel(version) ?? await RegisterCandidateAsync(run, tune, version, bus, cancellationToken).ConfigureAwait(false);
        var evalJob = jobs.Get(JobIds.Eval(runId));
        if (evalJob is null)
        {
            jobs.Create(JobPlanner.Eval(run, candidate, ComparableIncumbent(run.AppId), pipeline, paths));
            await OfferIfDueAsync(JobIds.Eval(runId), bus, cancellationToken).ConfigureAwait(false);
            return;
        }

        switch (evalJob.State)
        {
            case JobState.Pending or JobState.Offered or JobState.Running:
                return;
            case JobState.Failed or JobState.Cancelled:
                var reason = $"evaluation {JobRules.Text(evalJob.State)}: {evalJob.Reason}";
                if (registry.CompleteRun(runId, RunStatus.Failed, reason))
                {
                    LogRunFailed(logger, runId, reason);
                    await bus.Publish(new EvaluationFailed(runId, run.AppId, version, reason), cancellationToken).ConfigureAwait(false);
                }

                return;
        }

        await DecideAsync(run, candidate, evalJob, bus, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ModelVersionRecord> RegisterCandidateAsync<TBus>(
        RunRecord run, JobRecord tune, string version, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint
    {
        var succeeded = jobs.Attempts(tune.JobId).LastOrDefault(a => a.State == AttemptState.Succeeded)
            ?? throw new InvalidOperationException($"job {tune.JobId} succeeded without a succeeded attempt");
        var metrics = tune.ResultJson ?? "{}";
        var record = new ModelVersionRecord(
            version, run.AppId, tune.Spec.IncumbentVersion, run.RunId,
            JsonSerializer.Serialize(run.Snapshot.Files.Select(f => new Dictionary<string, object> { ["path"] = f.Path, ["rows"] = f.Rows })),
            succeeded.OutputPath ?? JobIds.OutputOf(tune.Spec, succeeded.Attempt), metrics, ModelStatus.Candidate, clock.GetUtcNow());
        if (registry.RegisterCandidate(record))
        {
            var (pairs, accuracy) = TrainNumbers(metrics);
            LogTrained(logger, version, succeeded.Attempt, succeeded.WorkerId ?? "?");
            await bus.Publish(new TuningCompleted(run.RunId, run.AppId, version, pairs, accuracy), cancellationToken).ConfigureAwait(false);
        }

        return registry.GetModel(version)!;
    }

    private async Task DecideAsync<TBus>(RunRecord run, ModelVersionRecord candidate, JobRecord evalJob, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint
    {
        var app = pipeline.For(run.AppId);
        var decision = registry.GetDecision(candidate.Version);
        GateDecision? gate = null;
        if (decision is null)
        {
            gate = Gate(evalJob, app, run.AppId);
            registry.RecordDecision(candidate.Version, gate.Promote, gate.Candidate, gate.Incumbent, gate.Difference, gate.Lower95, gate.Reason, clock.GetUtcNow());
            decision = registry.GetDecision(candidate.Version)!;
        }

        // The registry is the source of truth: it is complete before anyone hears about the outcome.
        var holdForSignoff = decision.Promoted && app.Gate.RequireSignoff;
        if (decision.Promoted && !holdForSignoff && registry.GetModel(candidate.Version)?.Status == ModelStatus.Candidate)
        {
            registry.Promote(candidate.Version);
        }

        var ending = holdForSignoff ? $"passed the gate; awaiting sign-off: {decision.Reason}" : decision.Reason;
        if (!registry.CompleteRun(run.RunId, RunStatus.Completed, ending))
        {
            return;
        }

        LogDecision(logger, candidate.Version, decision.Promoted ? holdForSignoff ? "awaits sign-off" : "promoted" : "rejected", decision.Reason);
        if (!decision.Promoted)
        {
            await bus.Publish(new CandidateRejected(run.AppId, candidate.Version, decision.Reason), cancellationToken).ConfigureAwait(false);
        }
        else if (holdForSignoff)
        {
            await bus.Publish(new CandidateAwaitingSignoff(run.AppId, candidate.Version, decision.Reason), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await bus.Publish(new ModelPromoted(run.AppId, candidate.Version, evalJob.Spec.IncumbentVersion, candidate.ArtifactPath), cancellationToken)
                .ConfigureAwait(false);
        }

        var report = TryParse(evalJob.ResultJson);
        await bus.Publish(new EvaluationCompleted(run.RunId, run.AppId, candidate.Version, evalJob.Spec.IncumbentVersion,
            report?.Candidate.EvalPairs ?? 0, decision.CandidateAccuracy, decision.IncumbentAccuracy, decision.Promoted, decision.Reason),
            cancellationToken).ConfigureAwait(false);
    }

    private GateDecision Gate(JobRecord evalJob, AppPipeline app, string appId)
    {
        GateDecision gate;
        try
        {
            gate = JobGate.Decide(EvalReport.Parse(evalJob.ResultJson ?? ""), app.Gate.Margin);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            // A report the gate cannot read is a rejection with the reason, never a promotion.
            return new GateDecision(false, 0, null, 0, null, $"the eval report could not be gated: {e.Message}");
        }

        // A current model the evaluator could not score (another trainer kind) did not take part: say so.
        if (evalJob.Spec.IncumbentVersion is null && registry.CurrentModel(appId) is { } current && current.Version != evalJob.Spec.CandidateVersion)
        {
            gate = gate with { Reason = $"{gate.Reason}; current model {current.Version} comes from another trainer kind and was not scored" };
        }

        return gate;
    }

    /// <summary>The app's current model, if the run's evaluator can score it (it was trained by the same kind of trainer).</summary>
    private ModelVersionRecord? ComparableIncumbent(string appId)
    {
        if (registry.CurrentModel(appId) is not { } current)
        {
            return null;
        }

        // Models from before durable jobs have no tuning job: they came from the only trainer there was, ML.NET.
        var runner = jobs.Get(JobIds.Tune(current.RunId))?.Spec.Runner ?? JobRunners.MlNetReward;
        return runner == JobPlanner.RunnerOf(pipeline.For(appId)) ? current : null;
    }

    private static EvalReport? TryParse(string? json)
    {
        try
        {
            return json is null ? null : EvalReport.Parse(json);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static (int Pairs, double? Accuracy) TrainNumbers(string metricsJson)
    {
        try
        {
            using var document = JsonDocument.Parse(metricsJson);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (0, null);
            }

            var pairs = root.TryGetProperty("train_pairs", out var p) && p.TryGetInt32(out var n) ? n : 0;
            double? accuracy = root.TryGetProperty("train_accuracy", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null;
            return (pairs, accuracy);
        }
        catch (JsonException)
        {
            return (0, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Offered attempt {Attempt} of job {JobId}")]
    private static partial void LogOffered(ILogger logger, string jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} trained (attempt {Attempt}, worker {WorkerId})")]
    private static partial void LogTrained(ILogger logger, string version, int attempt, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} {Outcome}: {Reason}")]
    private static partial void LogDecision(ILogger logger, string version, string outcome, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} failed: {Reason}")]
    private static partial void LogRunFailed(ILogger logger, string runId, string reason);
}
