using System.Diagnostics;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Runs;

/// <summary>
/// Moves a run forward from what the store holds, never from what a message said: it reads the run's facts, asks the
/// pure <see cref="RunStep"/> what comes next, and carries that one action out (create and offer a job, register the
/// candidate, gate, promote, end the run and announce it), until the step says wait. Each action is idempotent, so the
/// consumers call it after every recorded report and the supervisor's sweep calls it for every running run: a step lost
/// to a crash between two writes is simply taken again.
/// </summary>
internal sealed partial class RunReconciler(
    ModelRegistry registry, JobStore jobs, JobOffers offers, PipelineDefinition pipeline, IRegisteredApps apps, LoopPaths paths,
    OrchestrationTelemetry telemetry, TimeProvider clock, ILogger<RunReconciler> logger) : IDisposable
{
    private const int MaxStepsPerAdvance = 16;

    /// <summary>Why a run of an app that is no longer registered ends (fixed text).</summary>
    public const string UnregisteredAppReason = "the app is not registered (not listed under apps: in the pipeline): the run ends without a model";

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
            // Each action changes what the facts say, so the loop ends; the bound only guards against a store that
            // does not take a write (it would otherwise spin).
            for (var step = 0; step < MaxStepsPerAdvance; step++)
            {
                if (registry.GetRun(runId) is not { } run)
                {
                    return;
                }

                // A run of an app taken off the pipeline (or started before registration was required) goes no further:
                // no job, candidate or promotion ever follows for an app that is not registered.
                if (run.Status == RunStatus.Running && !apps.IsRegistered(run.AppId))
                {
                    EndUnregistered(run);
                    return;
                }

                var action = RunStep.Next(Facts(run));
                if (action is RunAction.WaitForJobs)
                {
                    return;
                }

                await CarryOutAsync(run, action, bus, cancellationToken).ConfigureAwait(false);
                if (action.EndsRun)
                {
                    return;
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Advances every running run (the supervisor's sweep calls it, so a step lost to a crash is taken again).</summary>
    public async Task AdvanceRunningAsync(IBus bus, CancellationToken cancellationToken)
    {
        foreach (var run in registry.RunningRuns())
        {
            await AdvanceAsync(run.RunId, bus, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What the store holds about <paramref name="run"/>, as the run step reads it.</summary>
    private RunFacts Facts(RunRecord run)
    {
        var version = CandidateVersion(run);
        var candidate = registry.GetModel(version);
        var decision = registry.GetDecision(version);
        return new RunFacts(
            Running: run.Status == RunStatus.Running,
            Tune: StageOf(jobs.Get(JobIds.Tune(run.RunId))),
            CandidateRegistered: candidate is not null,
            Eval: StageOf(jobs.Get(JobIds.Eval(run.RunId))),
            Decision: decision is null ? null : new RecordedDecision(decision.Promoted, decision.Reason),
            CandidateAwaitsPromotion: candidate?.Status == ModelStatus.Candidate,
            RequireSignoff: pipeline.For(run.AppId).Gate.RequireSignoff,
            StaleGate: decision is { Promoted: true } && candidate?.Status == ModelStatus.Candidate ? registry.StaleGate(version) : null);
    }

    private static Stage StageOf(JobRecord? job) => job?.State switch
    {
        null => Stage.NotCreated,
        JobState.Pending or JobState.Offered or JobState.Running => new Stage(StageState.InProgress),
        JobState.Succeeded => new Stage(StageState.Succeeded),
        JobState.Failed => new Stage(StageState.Failed, job.Reason),
        JobState.Cancelled => new Stage(StageState.Cancelled, job.Reason),
        _ => throw new InvalidDataException($"job {job.JobId} is in an unknown state {job.State}"),
    };

    /// <summary>The span name of an action: <c>run.</c> and what it does, so a trace reads as the run's steps.</summary>
    private static string SpanName(RunAction action) => action switch
    {
        RunAction.CreateTune => "run.create_tune_job",
        RunAction.Register => "run.register_candidate",
        RunAction.CreateEval => "run.create_eval_job",
        RunAction.Gate => "run.gate",
        RunAction.Promote => "run.promote",
        RunAction.FailRun => "run.fail",
        RunAction.CompleteRun => "run.complete",
        _ => "run.step",
    };

    private static string CandidateVersion(RunRecord run) => run.CandidateVersion;

    private async Task CarryOutAsync<TBus>(RunRecord run, RunAction action, TBus bus, CancellationToken cancellationToken)
        where TBus : IPublishEndpoint, ISendEndpointProvider
    {
        var version = CandidateVersion(run);
        using var span = OrchestrationTelemetry.StartRunSpan(SpanName(action), registry.TraceParentOf(run.RunId), run.RunId, run.AppId);
        span?.SetTag("feedbackloop.model_version", version);
        switch (action)
        {
            case RunAction.CreateTune:
                jobs.Create(JobPlanner.Tune(run, version, registry.CurrentModel(run.AppId)?.Version, pipeline, paths));
                await offers.OfferIfDueAsync(JobIds.Tune(run.RunId), bus, cancellationToken).ConfigureAwait(false);
                break;
            case RunAction.Register:
                await RegisterCandidateAsync(run, jobs.Get(JobIds.Tune(run.RunId))!, version, bus, cancellationToken).ConfigureAwait(false);
                break;
            case RunAction.CreateEval:
                jobs.Create(JobPlanner.Eval(run, registry.GetModel(version)!, ComparableIncumbent(run.AppId), pipeline, paths));
                await offers.OfferIfDueAsync(JobIds.Eval(run.RunId), bus, cancellationToken).ConfigureAwait(false);
                break;
            case RunAction.Gate:
                var gate = Gate(jobs.Get(JobIds.Eval(run.RunId))!, run.AppId);
                // Gated against the model the eval scored: a person may have promoted another while the eval ran.
                if (registry.RecordDecision(version, gate.Promote, gate.Candidate, gate.Incumbent, gate.Difference, gate.Lower95, gate.Reason, clock.GetUtcNow(),
                        jobs.Get(JobIds.Eval(run.RunId))!.Spec.IncumbentVersion))
                {
                    telemetry.GateDecided(run.AppId, gate.Promote);
                }

                span?.SetTag("feedbackloop.gate.promote", gate.Promote);
                break;
            case RunAction.Promote:
                registry.Promote(version, pipeline.For(run.AppId).Rollout);
                break;
            case RunAction.FailRun failed:
                await FailAsync(run, version, failed, bus, cancellationToken).ConfigureAwait(false);
                break;
            case RunAction.CompleteRun completed:
                await CompleteAsync(run, version, completed, bus, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new InvalidOperationException($"the run step returned an action the reconciler does not know: {action}");
        }
    }

    private void EndUnregistered(RunRecord run)
    {
        if (!registry.CompleteRun(run.RunId, RunStatus.Failed, UnregisteredAppReason)) return;
        LogRunFailed(logger, run.RunId, UnregisteredAppReason);
        telemetry.RunEnded(run.AppId, "unregistered_app");
    }

    private async Task FailAsync(RunRecord run, string version, RunAction.FailRun failed, IPublishEndpoint bus, CancellationToken cancellationToken)
    {
        if (!registry.CompleteRun(run.RunId, RunStatus.Failed, failed.Reason))
        {
            return;
        }

        LogRunFailed(logger, run.RunId, failed.Reason);
        telemetry.RunEnded(run.AppId, failed.Stage == RunStage.Tuning ? "failed_tuning" : "failed_evaluation");
        object announcement = failed.Stage == RunStage.Tuning
            ? new TuningFailed(run.RunId, run.AppId, failed.Reason)
            : new EvaluationFailed(run.RunId, run.AppId, version, failed.Reason);
        await bus.Publish(announcement, cancellationToken).ConfigureAwait(false);
    }

    private async Task CompleteAsync(RunRecord run, string version, RunAction.CompleteRun completed, IPublishEndpoint bus, CancellationToken cancellationToken)
    {
        // The registry is the source of truth: it is complete before anyone hears about the outcome.
        if (!registry.CompleteRun(run.RunId, RunStatus.Completed, completed.Reason))
        {
            return;
        }

        var decision = registry.GetDecision(version)!;
        var candidate = registry.GetModel(version)!;
        var evalJob = jobs.Get(JobIds.Eval(run.RunId))!;
        // One word for the log, the metric and the span, so they can be matched up.
        var outcome = completed.Outcome switch
        {
            RunOutcome.Promoted => "promoted",
            RunOutcome.AwaitingSignoff => "awaiting_signoff",
            RunOutcome.Superseded => "superseded",
            _ => "rejected",
        };
        LogDecision(logger, version, outcome, decision.Reason);
        telemetry.RunEnded(run.AppId, outcome);
        Activity.Current?.SetTag("feedbackloop.run.outcome", outcome);
        switch (completed.Outcome)
        {
            case RunOutcome.Rejected:
                await bus.Publish(new CandidateRejected(run.AppId, version, decision.Reason), cancellationToken).ConfigureAwait(false);
                break;
            case RunOutcome.AwaitingSignoff:
                await bus.Publish(new CandidateAwaitingSignoff(run.AppId, version, decision.Reason), cancellationToken).ConfigureAwait(false);
                break;
            case RunOutcome.Superseded:
                // Nothing changed what serves; the run's reason and EvaluationCompleted below say why it was not promoted.
                break;
            default:
                await bus.Publish(new ModelPromoted(run.AppId, version, evalJob.Spec.IncumbentVersion, candidate.ArtifactPath), cancellationToken)
                    .ConfigureAwait(false);
                break;
        }

        var report = TryParse(evalJob.ResultJson);
        await bus.Publish(new EvaluationCompleted(run.RunId, run.AppId, version, evalJob.Spec.IncumbentVersion,
            report?.Candidate.EvalPairs ?? 0, decision.CandidateAccuracy, decision.IncumbentAccuracy, decision.Promoted, decision.Reason),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task RegisterCandidateAsync(RunRecord run, JobRecord tune, string version, IPublishEndpoint bus, CancellationToken cancellationToken)
    {
        var succeeded = jobs.Attempts(tune.JobId).LastOrDefault(a => a.State == AttemptState.Succeeded)
            ?? throw new InvalidOperationException($"job {tune.JobId} succeeded without a succeeded attempt");
        var metrics = tune.ResultJson ?? "{}";
        var record = new ModelVersionRecord(
            version, run.AppId, tune.Spec.IncumbentVersion, run.RunId,
            RegistryText.SnapshotFiles(run.Snapshot),
            succeeded.OutputPath ?? JobIds.OutputOf(tune.Spec, succeeded.Attempt), metrics, ModelStatus.Candidate, clock.GetUtcNow());
        if (registry.RegisterCandidate(record))
        {
            var (pairs, accuracy) = TrainNumbers(metrics);
            LogTrained(logger, version, succeeded.Attempt, succeeded.WorkerId ?? "?");
            await bus.Publish(new TuningCompleted(run.RunId, run.AppId, version, pairs, accuracy), cancellationToken).ConfigureAwait(false);
        }
    }

    private GateDecision Gate(JobRecord evalJob, string appId)
    {
        GateDecision gate;
        try
        {
            gate = EvalGate.Decide(EvalReport.Parse(evalJob.ResultJson ?? ""), pipeline.For(appId).Gate.Margin);
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

    /// <summary>The numbers of a tuning job's stored result; none when it cannot be read (the run goes on: they are for reports).</summary>
    private static (int Pairs, double? Accuracy) TrainNumbers(string metricsJson)
    {
        try
        {
            var report = TrainingReport.Parse(metricsJson);
            return (report.TrainPairs ?? 0, report.TrainAccuracy);
        }
        catch (InvalidDataException)
        {
            return (0, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} trained (attempt {Attempt}, worker {WorkerId})")]
    private static partial void LogTrained(ILogger logger, string version, int attempt, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Candidate {Version} {Outcome}: {Reason}")]
    private static partial void LogDecision(ILogger logger, string version, string outcome, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} failed: {Reason}")]
    private static partial void LogRunFailed(ILogger logger, string runId, string reason);
}
