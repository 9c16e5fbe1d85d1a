using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Worker;

/// <summary>How an attempt ended on the worker (a cancellation surfaces as <see cref="OperationCanceledException"/> instead).</summary>
internal abstract record AttemptResult;

/// <summary>It succeeded: the folder it wrote and its metrics JSON.</summary>
internal sealed record AttemptSucceeded(string OutputDirectory, string MetricsJson) : AttemptResult;

/// <summary>It failed: why, and the exit code when a process ran to its end.</summary>
internal sealed record AttemptFailed(string Reason, int? ExitCode) : AttemptResult;

/// <summary>The in-process (CPU, ML.NET) trainer's ports; a worker without them runs only command jobs.</summary>
public sealed record InProcessTrainers(ISnapshotSource Snapshots, IRewardModelTrainer Trainer, IPairwiseEvaluator Evaluator);

/// <summary>
/// Carries out one attempt of a job on a worker slot: a folder of links to exactly the run's snapshot files, then the
/// trainer or evaluator — a command expanded from its template, or the in-process ML.NET trainer — and, for an eval
/// job, the extra checks. It reads and checks what the job wrote (<c>metrics.json</c>) so a bad result fails here, on
/// the worker, with a reason, rather than in the gate.
/// </summary>
/// <param name="options">The worker's settings.</param>
/// <param name="trainers">The in-process trainer; null on a worker that runs command jobs only.</param>
/// <param name="snapshots">
/// Where a command job's reviewed snapshot is read from (the data folder's source); the in-process trainers' source when
/// null. A worker with neither cannot run a job on a reviewed snapshot, and says so.
/// </param>
internal sealed class JobExecutor(WorkerOptions options, InProcessTrainers? trainers, ISnapshotSource? snapshots = null)
{
    /// <summary>A metrics file larger than this is refused: metrics travel in a message and live in the store.</summary>
    public const long MaxMetricsBytes = 4 * 1024 * 1024;

    public async Task<AttemptResult> RunAsync(JobOffered job, int slot, string attemptFolder, AttemptLog log, CancellationToken cancellationToken)
    {
        var spec = job.Spec;
        var output = JobIds.OutputOf(spec, job.Attempt);
        // The version's folder and the attempt's: owner-only (a model is made of users' text).
        PrivateFiles.CreateFolder(output, upTo: spec.OutputRoot);
        var data = Path.Combine(attemptFolder, "data");
        if (await PrepareDataAsync(spec, data, cancellationToken).ConfigureAwait(false) is { } missing)
        {
            return new AttemptFailed(missing, null);
        }

        var variables = new Dictionary<string, string>(spec.Variables, StringComparer.Ordinal)
        {
            [TemplateVariables.Attempt] = job.Attempt.ToString(CultureInfo.InvariantCulture),
            [TemplateVariables.Data] = data,
            [TemplateVariables.Train] = data,
            [TemplateVariables.Eval] = data,
            [TemplateVariables.Output] = output,
        };
        // The allowlisted part of the worker's own environment (never its bus or store secrets), then the job's.
        var environment = options.ChildEnvironment.From(Environment.GetEnvironmentVariables());
        // One job per GPU: the slot's GPU is the only one the job sees; a CPU slot sees none.
        environment["CUDA_VISIBLE_DEVICES"] = options.DeviceOf(slot);
        environment["FEEDBACKLOOP_JOB_ID"] = job.JobId;
        environment["FEEDBACKLOOP_ATTEMPT"] = job.Attempt.ToString(CultureInfo.InvariantCulture);
        environment["FEEDBACKLOOP_WORKER_ID"] = options.WorkerId;
        environment["PYTHONUNBUFFERED"] = "1";
        var context = new Context(job, output, attemptFolder, variables, environment, log);
        if (spec.Runner == JobRunners.MlNetReward && trainers is null)
        {
            return new AttemptFailed("this worker has no in-process trainer (it runs command jobs only)", null);
        }

        try
        {
            return (spec.Runner, spec.Kind) switch
            {
                (JobRunners.Command, JobKinds.Tune) => await TuneByCommandAsync(context, cancellationToken).ConfigureAwait(false),
                (JobRunners.Command, JobKinds.Eval) => await EvalByCommandAsync(context, cancellationToken).ConfigureAwait(false),
                (JobRunners.MlNetReward, JobKinds.Tune) => await TuneInProcessAsync(context, trainers!, cancellationToken).ConfigureAwait(false),
                (JobRunners.MlNetReward, JobKinds.Eval) => await EvalInProcessAsync(context, trainers!, cancellationToken).ConfigureAwait(false),
                _ => new AttemptFailed($"this worker cannot run a '{spec.Kind}' job of runner '{spec.Runner}'", null),
            };
        }
        finally
        {
            // Whatever the trainer's umask gave its files, what it leaves is the owner's alone (also after a failure).
            PrivateFiles.Tighten(output);
        }
    }

    /// <summary>
    /// Fills the data folder a command trainer reads: for a reviewed snapshot, one file of exactly the pairs it trains on
    /// (excluded pairs left out, swaps and corrections applied); otherwise links to the snapshot's files. Returns why not.
    /// </summary>
    private async Task<string?> PrepareDataAsync(JobSpec spec, string folder, CancellationToken cancellationToken)
    {
        if (spec.SnapshotId is not { } id || spec.Runner != JobRunners.Command) return LinkSnapshot(spec, folder);
        if ((snapshots ?? trainers?.Snapshots) is not { } source) return $"this worker cannot apply the review of snapshot {id}: it has no dataset source";
        try
        {
            // Reading and hashing a snapshot takes a while, partly in blocking reads that do not watch the token: it runs
            // apart, so a time limit or a stop ends the attempt at once instead of after the file is written.
            var reviewed = new DatasetSnapshot(spec.AppId, spec.Files) { SnapshotId = id };
            var written = await Task.Run(() => source.WriteReviewedAsync(reviewed, folder, cancellationToken), cancellationToken)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            return written is null ? LinkSnapshot(spec, folder) : null;
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or IOException)
        {
            return $"snapshot {id} could not be read on this worker: {e.Message}";
        }
    }

    /// <summary>Links each snapshot file into <paramref name="folder"/>; returns why not when a file is missing.</summary>
    private static string? LinkSnapshot(JobSpec spec, string folder)
    {
        Directory.CreateDirectory(folder);
        for (var i = 0; i < spec.Files.Count; i++)
        {
            var file = spec.Files[i].Path;
            if (!File.Exists(file))
            {
                return $"snapshot file {file} is missing on this worker (is the dataset folder shared at the same path?)";
            }

            // Numbered names: two files of the snapshot may share a name in different folders.
            var link = Path.Combine(folder, FormattableString.Invariant($"{i:D5}-{Path.GetFileName(file)}"));
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, file);
            }
        }

        return null;
    }

    private static async Task<AttemptResult> TuneByCommandAsync(Context context, CancellationToken cancellationToken)
    {
        var exit = await RunAsync(context, context.Job.Spec.Command, context.Variables, "trainer", cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            return Failed("the trainer", exit, context.Log);
        }

        var (metrics, error) = ReadMetrics(context.Output);
        return error is null
            ? new AttemptSucceeded(context.Output, TrainingReport.FromJson(metrics!.Value).ToJson())
            : new AttemptFailed(error, 0);
    }

    private static async Task<AttemptResult> EvalByCommandAsync(Context context, CancellationToken cancellationToken)
    {
        var spec = context.Job.Spec;
        // The pipeline reader refuses this combination; a job from elsewhere must not be scored on other pairs than it asks.
        if (spec.EvalRecency is not null)
        {
            return new AttemptFailed("eval.recency is used only with the in-process evaluator; a command evaluator chooses its own pairs", null);
        }

        var scores = new List<ModelScore>();
        foreach (var (role, artifact) in Models(spec))
        {
            var folder = Path.Combine(context.Output, role);
            Directory.CreateDirectory(folder);
            var variables = new Dictionary<string, string>(context.Variables, StringComparer.Ordinal)
            {
                [TemplateVariables.Model] = artifact,
                [TemplateVariables.Output] = folder,
            };
            var exit = await RunAsync(context, spec.Command, variables, $"evaluator ({role})", cancellationToken).ConfigureAwait(false);
            if (exit != 0)
            {
                return Failed($"the evaluator of the {role}", exit, context.Log);
            }

            var (metrics, error) = ReadMetrics(folder);
            if (error is not null)
            {
                return new AttemptFailed($"{role}: {error}", 0);
            }

            try
            {
                scores.Add(ModelScore.FromMetrics(metrics!.Value));
            }
            catch (InvalidDataException e)
            {
                return new AttemptFailed($"{role}: {e.Message}", 0);
            }
        }

        return await FinishEvalAsync(context, scores[0], scores.Count > 1 ? scores[1] : null, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<AttemptResult> TuneInProcessAsync(Context context, InProcessTrainers trainers, CancellationToken cancellationToken)
    {
        var spec = context.Job.Spec;
        var pairs = await ReadPairsAsync(spec, trainers, cancellationToken).ConfigureAwait(false);
        var train = pairs.Where(p => !TrainEvalSplit.IsEval(p.PairId, spec.EvalFraction)).ToList();
        // A label on a response that an eval pair holds would let the candidate see the held-out answer: left out.
        var held = pairs.Where(p => TrainEvalSplit.IsEval(p.PairId, spec.EvalFraction))
            .SelectMany(p => new[] { p.ChosenGenerationId, p.RejectedGenerationId }).ToHashSet(StringComparer.Ordinal);
        var labels = (await trainers.Snapshots.ReadLabelsAsync(new DatasetSnapshot(spec.AppId, spec.Files) { SnapshotId = spec.SnapshotId }, cancellationToken).ConfigureAwait(false))
            .Where(l => !held.Contains(l.GenerationId)).ToList();
        context.Log.Note($"training the ML.NET reward model on {train.Count} of {pairs.Count} pairs and {labels.Count} labels (seed {spec.Seed})");
        var metrics = await trainers.Trainer.TrainAsync(train, labels, spec.Seed, spec.CandidateVersion, context.Output, cancellationToken).ConfigureAwait(false);
        var json = TrainingReport.Of(metrics).ToJson();
        await File.WriteAllTextAsync(Path.Combine(context.Output, "metrics.json"), json, cancellationToken).ConfigureAwait(false);
        context.Log.Note($"trained: {json}");
        return new AttemptSucceeded(context.Output, json);
    }

    private static async Task<AttemptResult> EvalInProcessAsync(Context context, InProcessTrainers trainers, CancellationToken cancellationToken)
    {
        var spec = context.Job.Spec;
        var pairs = await ReadPairsAsync(spec, trainers, cancellationToken).ConfigureAwait(false);
        var eval = pairs.Where(p => TrainEvalSplit.IsEval(p.PairId, spec.EvalFraction)).ToList();
        EvalPairsUsed? used = null;
        if (spec.EvalRecency is { } recency)
        {
            if (!(recency.WindowSeconds > 0 && double.IsFinite(recency.WindowSeconds)) || recency.MinPairs < 1)
            {
                return new AttemptFailed(string.Create(CultureInfo.InvariantCulture,
                    $"eval.recency needs a window above 0 s and a minimum of at least 1 pair, got {recency.WindowSeconds} s and {recency.MinPairs}"), null);
            }

            // eval.recency: only the recent held-out pairs judge the two models (ADR 0039); the report says which.
            var selection = new RecentEvalPairs(TimeSpan.FromSeconds(recency.WindowSeconds), recency.MinPairs)
                .Select(eval.Select(p => new HeldOutPair(p.PairId, p.CreatedAt)).ToList());
            eval = eval.Where(p => selection.PairIds.Contains(p.PairId)).ToList();
            used = selection.Used;
            context.Log.Note($"eval.recency: scoring {used.Describe()}");
        }

        var scores = new List<ModelScore>();
        foreach (var (role, artifact) in Models(spec))
        {
            context.Log.Note($"scoring the {role} ({artifact}) on {eval.Count} held-out pairs");
            var outcomes = await trainers.Evaluator.EvaluateAsync(artifact, eval, cancellationToken).ConfigureAwait(false);
            context.Log.Note(string.Create(CultureInfo.InvariantCulture, $"{role}: accuracy {outcomes.Accuracy:0.000} ± {outcomes.StandardError:0.000}"));
            scores.Add(ModelScore.Of(outcomes));
        }

        return await FinishEvalAsync(context, scores[0], scores.Count > 1 ? scores[1] : null, cancellationToken, used).ConfigureAwait(false);
    }

    /// <summary>Runs the extra checks (all of them, so the report shows every failure) and writes the eval report.</summary>
    private static async Task<AttemptResult> FinishEvalAsync(
        Context context, ModelScore candidate, ModelScore? incumbent, CancellationToken cancellationToken, EvalPairsUsed? used = null)
    {
        var spec = context.Job.Spec;
        var checks = new List<CheckResult>();
        for (var i = 0; i < spec.ExtraCommands.Count; i++)
        {
            var folder = Path.Combine(context.Output, FormattableString.Invariant($"check-{i + 1}"));
            Directory.CreateDirectory(folder);
            var variables = new Dictionary<string, string>(context.Variables, StringComparer.Ordinal)
            {
                [TemplateVariables.Model] = spec.CandidateArtifact ?? "",
                [TemplateVariables.Output] = folder,
            };
            var arguments = CommandTemplate.FromArguments(spec.ExtraCommands[i]).Expand(variables);
            try
            {
                var exit = await RunAsync(context, spec.ExtraCommands[i], variables, FormattableString.Invariant($"extra check {i + 1}"), cancellationToken)
                    .ConfigureAwait(false);
                checks.Add(new CheckResult(CommandTemplate.Display(arguments), exit, null));
            }
            catch (ProcessStartException e)
            {
                checks.Add(new CheckResult(CommandTemplate.Display(arguments), null, e.Message));
            }
        }

        var report = new EvalReport(candidate, incumbent, checks) { PairsUsed = used }.ToJson();
        await File.WriteAllTextAsync(Path.Combine(context.Output, "eval-report.json"), report, cancellationToken).ConfigureAwait(false);
        return new AttemptSucceeded(context.Output, report);
    }

    private static async Task<int> RunAsync(
        Context context, IReadOnlyList<string> template, IReadOnlyDictionary<string, string> variables, string what, CancellationToken cancellationToken)
    {
        var arguments = CommandTemplate.FromArguments(template).Expand(variables);
        context.Log.Note($"{what}: {CommandTemplate.Display(arguments)}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var exit = await ProcessRunner.RunAsync(arguments, context.AttemptFolder, context.Environment, context.Log, cancellationToken).ConfigureAwait(false);
        context.Log.Note(string.Create(CultureInfo.InvariantCulture, $"{what} exited {exit} after {clock.Elapsed.TotalSeconds:0.0} s"));
        return exit;
    }

    private static async Task<IReadOnlyList<Contracts.Datasets.PreferencePair>> ReadPairsAsync(
        JobSpec spec, InProcessTrainers trainers, CancellationToken cancellationToken) =>
        await trainers.Snapshots.ReadAsync(
            new DatasetSnapshot(spec.AppId, spec.Files) { SnapshotId = spec.SnapshotId }, cancellationToken).ConfigureAwait(false);

    /// <summary>The models an eval job scores: the candidate, then the incumbent when there is one.</summary>
    private static List<(string Role, string Artifact)> Models(JobSpec spec)
    {
        var models = new List<(string, string)> { ("candidate", spec.CandidateArtifact ?? throw new InvalidDataException("an eval job without a candidate")) };
        if (spec.IncumbentArtifact is { } incumbent)
        {
            models.Add(("incumbent", incumbent));
        }

        return models;
    }

    private static AttemptFailed Failed(string what, int exit, AttemptLog log) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{what} exited {exit}{(log.Progress is { } last ? $"; last line: {last}" : "")}"), exit);

    /// <summary>The JSON object in <c>metrics.json</c> (parsed once, here), or why there is none.</summary>
    private static (JsonElement? Metrics, string? Error) ReadMetrics(string folder)
    {
        var path = Path.Combine(folder, "metrics.json");
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return (null, $"the command exited 0 but wrote no {path}");
        }

        if (file.Length > MaxMetricsBytes)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"{path} is {file.Length} bytes; the limit is {MaxMetricsBytes}"));
        }

        var text = File.ReadAllText(path);
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? (document.RootElement.Clone(), null)
                : (null, $"{path} must hold a JSON object, got {document.RootElement.ValueKind}");
        }
        catch (JsonException e)
        {
            return (null, $"{path} is not JSON: {e.Message}");
        }
    }

    private sealed record Context(
        JobOffered Job, string Output, string AttemptFolder, Dictionary<string, string> Variables, Dictionary<string, string> Environment, AttemptLog Log);
}
