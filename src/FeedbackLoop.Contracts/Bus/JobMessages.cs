using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Contracts.Bus;

// The job protocol between the orchestrator, which alone writes the job store, and the workers. No delivery is
// held while a job runs (RabbitMQ closes a channel whose delivery stays unacknowledged past consumer_timeout):
// a worker claims an offer and acknowledges it at once, and the grant, the heartbeats and the outcome each
// travel as their own message. Every message names the job and the attempt, which is what makes each handler
// idempotent: a duplicate, or a message about an attempt that is no longer current, changes nothing.

/// <summary>The kinds of job a run is made of.</summary>
public static class JobKinds
{
    /// <summary>Train a candidate on the run's snapshot.</summary>
    public const string Tune = "tune";

    /// <summary>Score the candidate (and the incumbent) on the held-out pairs and run the extra checks.</summary>
    public const string Eval = "eval";
}

/// <summary>How a worker carries a job out.</summary>
public static class JobRunners
{
    /// <summary>In the worker's process: the ML.NET reward model on CPU.</summary>
    public const string MlNetReward = "mlnet-reward";

    /// <summary>A child process: the pipeline's command, expanded from its template.</summary>
    public const string Command = "command";
}

/// <summary>
/// Worker pools: a label a worker carries (<c>serve --pool gpu</c>) and a job names (the pipeline's <c>trainer.pool</c>,
/// <c>eval.pool</c>). Each pool has its own offer queue, so a worker never receives a job of another pool.
/// </summary>
public static class JobPools
{
    /// <summary>The pool of a worker or a job that names none.</summary>
    public const string Default = "cpu";

    /// <summary>The longest pool name: it becomes part of a queue name, which brokers cap at 255 bytes.</summary>
    public const int MaxLength = 48;

    /// <summary>
    /// True for a name of 1–<see cref="MaxLength"/> characters: lowercase ASCII letters and digits, with <c>-</c>, <c>_</c>
    /// or <c>.</c> inside (e.g. <c>gpu-h100</c>). Queue names are made from it, so nothing else is allowed.
    /// </summary>
    public static bool IsValid(string? pool) =>
        pool is { Length: > 0 and <= MaxLength } && IsLetterOrDigit(pool[0]) && IsLetterOrDigit(pool[^1])
        && pool.All(c => IsLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>What a valid pool name looks like, for error messages.</summary>
    public static string Rule =>
        $"a pool name is 1-{MaxLength} lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. cpu, gpu-h100)";

    private static bool IsLetterOrDigit(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}

/// <summary>How an attempt that did not succeed ended, as a worker reports it.</summary>
public static class JobOutcomes
{
    /// <summary>The job failed: a non-zero exit, a missing or bad <c>metrics.json</c>, an error in the runner.</summary>
    public const string Failed = "failed";

    /// <summary>The worker stopped it at the job's time limit.</summary>
    public const string TimedOut = "timed_out";

    /// <summary>Stopped on request (<c>feedbackloop jobs cancel</c>, or its attempt was superseded).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>
    /// Its worker shut down before it ended (a drain ran out of time): no verdict on the job, which is offered again at
    /// once and does not spend one of its attempts.
    /// </summary>
    public const string Interrupted = "interrupted";
}

/// <summary>Everything a worker needs to run a job, fixed when the job is created (later pipeline edits do not change it).</summary>
/// <param name="Kind">A <see cref="JobKinds"/> value.</param>
/// <param name="Runner">A <see cref="JobRunners"/> value.</param>
/// <param name="RunId">The run the job belongs to.</param>
/// <param name="AppId">The app.</param>
/// <param name="CandidateVersion">The version the run's candidate is registered under.</param>
/// <param name="Files">The run's frozen snapshot.</param>
/// <param name="EvalFraction">The held-out share (split by pair_id hash).</param>
/// <param name="Seed">The trainer's seed.</param>
/// <param name="OutputRoot">Attempt <c>n</c> writes into <c>OutputRoot/&lt;kind&gt;-&lt;n&gt;</c>, so a retry never sees a failed attempt's files.</param>
/// <param name="Command">The argument template of the trainer (tune) or evaluator (eval) command; empty for the in-process runner.</param>
/// <param name="ExtraCommands">Eval only: argument templates of the extra checks, each of which must exit 0.</param>
/// <param name="Variables">Values of the template's placeholders known when the job was created (base_model, params, …).</param>
/// <param name="CandidateArtifact">Eval only: the candidate's model folder.</param>
/// <param name="IncumbentVersion">Eval only: the app's current model when the job was created; null when it had none.</param>
/// <param name="IncumbentArtifact">Eval only: the incumbent's model folder.</param>
/// <param name="TimeoutSeconds">The time an attempt may run before the worker stops it.</param>
public sealed record JobSpec(
    string Kind,
    string Runner,
    string RunId,
    string AppId,
    string CandidateVersion,
    IReadOnlyList<SnapshotFile> Files,
    double EvalFraction,
    int Seed,
    string OutputRoot,
    IReadOnlyList<string> Command,
    IReadOnlyList<IReadOnlyList<string>> ExtraCommands,
    IReadOnlyDictionary<string, string> Variables,
    string? CandidateArtifact,
    string? IncumbentVersion,
    string? IncumbentArtifact,
    double TimeoutSeconds)
{
    /// <summary>The reviewed snapshot the run trains on (<see cref="Datasets.DatasetSnapshot.SnapshotId"/>); null when the run has none.</summary>
    public string? SnapshotId { get; init; }

    /// <summary>The worker pool that runs the job (<see cref="JobPools"/>); jobs stored before pools existed read as the default.</summary>
    public string Pool { get; init; } = JobPools.Default;

    /// <summary>
    /// Eval only: score on the recent held-out pairs (the pipeline's <c>eval.recency</c>); null scores every held-out pair.
    /// Left out of the JSON when null, so an offer without it signs and reads exactly as before the setting existed.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public EvalRecencySpec? EvalRecency { get; init; }
}

/// <summary>The pipeline's <c>eval.recency</c> as a job carries it (docs/ROLLOUT.md).</summary>
/// <param name="WindowSeconds">Held-out pairs made this many seconds before the newest one, or later, are scored.</param>
/// <param name="MinPairs">At least this many of the newest held-out pairs are scored (all, when fewer exist).</param>
public sealed record EvalRecencySpec(double WindowSeconds, int MinPairs);

/// <summary>Orchestrator → the queue of the job's pool: attempt <paramref name="Attempt"/> of a job is up for a claim.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt (1-based); an offer of an older attempt is refused when claimed.</param>
/// <param name="Spec">What to run.</param>
public sealed record JobOffered(string JobId, int Attempt, JobSpec Spec)
{
    /// <summary>
    /// HMAC-SHA256 (lowercase hex) of the offer's canonical content under the key orchestrator and workers share; a worker
    /// runs nothing whose signature does not match (docs/WORKERS.md).
    /// </summary>
    public string? Signature { get; init; }
}

/// <summary>Worker → orchestrator: the worker reserved a slot for the offered attempt and asks to run it.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt offered.</param>
/// <param name="WorkerId">The worker.</param>
/// <param name="Slot">The slot (GPU index, or 0 for the CPU slot) it reserved.</param>
/// <param name="LogPath">Where the worker will write the attempt's log.</param>
public sealed record JobClaimed(string JobId, int Attempt, string WorkerId, int Slot, string LogPath);

/// <summary>Orchestrator → workers: the claim of <paramref name="WorkerId"/> won; it runs the attempt now.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt.</param>
/// <param name="WorkerId">The worker that runs it; the others ignore the message.</param>
public sealed record JobAssigned(string JobId, int Attempt, string WorkerId);

/// <summary>Orchestrator → workers: the claim lost (another worker has the attempt, or the attempt is over); the slot is free again.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt claimed.</param>
/// <param name="WorkerId">The worker whose claim is refused.</param>
/// <param name="Reason">Why, for the worker's log.</param>
public sealed record JobClaimRefused(string JobId, int Attempt, string WorkerId, string Reason);

/// <summary>Worker → orchestrator, every few seconds while an attempt runs: it is alive, and how far it got.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt.</param>
/// <param name="WorkerId">The worker.</param>
/// <param name="ElapsedSeconds">Seconds since the attempt started on the worker.</param>
/// <param name="Progress">The job's last output line (at most 200 characters), if any.</param>
public sealed record JobHeartbeat(string JobId, int Attempt, string WorkerId, double ElapsedSeconds, string? Progress);

/// <summary>Worker → orchestrator: the attempt succeeded.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt.</param>
/// <param name="WorkerId">The worker.</param>
/// <param name="OutputDirectory">The folder the attempt wrote (the model, for a tune job).</param>
/// <param name="MetricsJson">The job's metrics: the trainer's <c>metrics.json</c>, or the eval job's scores and checks.</param>
/// <param name="Seconds">How long it ran.</param>
public sealed record JobSucceeded(string JobId, int Attempt, string WorkerId, string OutputDirectory, string MetricsJson, double Seconds);

/// <summary>Worker → orchestrator: the attempt ended without success.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt.</param>
/// <param name="WorkerId">The worker.</param>
/// <param name="Outcome">A <see cref="JobOutcomes"/> value.</param>
/// <param name="Reason">Why, for people.</param>
/// <param name="ExitCode">The command's exit code, when a process ran to its end.</param>
/// <param name="Seconds">How long it ran.</param>
public sealed record JobFailed(string JobId, int Attempt, string WorkerId, string Outcome, string Reason, int? ExitCode, double Seconds);

/// <summary>Orchestrator → workers: stop an attempt (a person cancelled the job, or the attempt was given up on).</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt to stop.</param>
/// <param name="WorkerId">The worker running it; the others ignore the message.</param>
/// <param name="Reason">Why, recorded as the attempt's reason.</param>
public sealed record StopJob(string JobId, int Attempt, string WorkerId, string Reason);
