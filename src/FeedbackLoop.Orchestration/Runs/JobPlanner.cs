using System.Globalization;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Runs;

/// <summary>
/// Turns a run and its app's pipeline into the jobs that carry it out. Everything a worker needs is fixed here and
/// stored with the job, so an edit of the pipelines file never changes a job that already exists.
/// </summary>
internal static class JobPlanner
{
    /// <summary>The run's tuning job: train the candidate on the snapshot, writing under the candidate's artifact folder.</summary>
    public static NewJob Tune(RunRecord run, string candidateVersion, string? parentVersion, PipelineDefinition pipeline, LoopPaths paths)
    {
        var app = pipeline.For(run.AppId);
        var jobId = JobIds.Tune(run.RunId);
        var spec = new JobSpec(
            JobKinds.Tune, RunnerOf(app), run.RunId, run.AppId, candidateVersion, Files(run), app.Split.EvalFraction, app.Trainer.Seed,
            paths.ArtifactOf(candidateVersion), app.Trainer.Command?.Arguments ?? [], [],
            Variables(run, jobId, candidateVersion, app, pipeline), CandidateArtifact: null, IncumbentVersion: parentVersion,
            IncumbentArtifact: null, app.Trainer.Timeout.TotalSeconds) { SnapshotId = run.Snapshot.SnapshotId, Pool = app.Trainer.Pool };
        return new NewJob(jobId, spec, app.Jobs.MaxAttempts, app.Jobs.RetryBackoff, app.Jobs.HeartbeatTimeout);
    }

    /// <summary>The run's eval job: score the candidate and (when comparable) the incumbent on the held-out pairs, then the checks.</summary>
    public static NewJob Eval(
        RunRecord run, ModelVersionRecord candidate, ModelVersionRecord? incumbent, PipelineDefinition pipeline, LoopPaths paths)
    {
        var app = pipeline.For(run.AppId);
        var jobId = JobIds.Eval(run.RunId);
        var variables = Variables(run, jobId, candidate.Version, app, pipeline);
        variables[TemplateVariables.Candidate] = candidate.ArtifactPath;
        variables[TemplateVariables.Incumbent] = incumbent?.ArtifactPath ?? "";
        var spec = new JobSpec(
            JobKinds.Eval, RunnerOf(app), run.RunId, run.AppId, candidate.Version, Files(run), app.Split.EvalFraction, app.Trainer.Seed,
            paths.ArtifactOf(candidate.Version), app.Eval.Command?.Arguments ?? [],
            app.Eval.ExtraCommands.Select(c => c.Arguments).ToList(), variables, candidate.ArtifactPath, incumbent?.Version,
            incumbent?.ArtifactPath, app.Eval.Timeout.TotalSeconds)
        {
            SnapshotId = run.Snapshot.SnapshotId,
            Pool = app.Eval.Pool ?? app.Trainer.Pool,
            EvalRecency = app.Eval.Recency is { } recency ? new EvalRecencySpec(recency.Window.TotalSeconds, recency.MinPairs) : null,
        };
        return new NewJob(jobId, spec, app.Jobs.MaxAttempts, app.Jobs.RetryBackoff, app.Jobs.HeartbeatTimeout);
    }

    /// <summary>How the app's trainer runs on a worker.</summary>
    public static string RunnerOf(AppPipeline app) =>
        app.Trainer.Kind == TrainerSettings.CommandKind ? JobRunners.Command : JobRunners.MlNetReward;

    private static IReadOnlyList<SnapshotFile> Files(RunRecord run) => run.Snapshot.Files;

    private static Dictionary<string, string> Variables(RunRecord run, string jobId, string version, AppPipeline app, PipelineDefinition pipeline) =>
        new(StringComparer.Ordinal)
        {
            [TemplateVariables.App] = run.AppId,
            [TemplateVariables.RunId] = run.RunId,
            [TemplateVariables.JobId] = jobId,
            [TemplateVariables.Version] = version,
            [TemplateVariables.Seed] = app.Trainer.Seed.ToString(CultureInfo.InvariantCulture),
            [TemplateVariables.EvalFraction] = app.Split.EvalFraction.ToString("R", CultureInfo.InvariantCulture),
            [TemplateVariables.BaseModel] = app.Trainer.BaseModel,
            [TemplateVariables.Params] = app.Trainer.ParamsJson,
            [TemplateVariables.PipelineDir] = pipeline.Directory,
        };
}
