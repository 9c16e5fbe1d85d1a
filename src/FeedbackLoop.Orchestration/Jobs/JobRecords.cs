using FeedbackLoop.Contracts.Bus;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>Where a job is. Succeeded, failed and cancelled are final.</summary>
public enum JobState
{
    /// <summary>Waiting for its next offer: created, or between attempts (backing off after a failure).</summary>
    Pending,

    /// <summary>Its current attempt was offered to the workers and nobody has been granted it yet.</summary>
    Offered,

    /// <summary>Its current attempt was granted to one worker, which is running it.</summary>
    Running,

    /// <summary>An attempt succeeded; the job's result is that attempt's metrics.</summary>
    Succeeded,

    /// <summary>Every attempt it was allowed failed.</summary>
    Failed,

    /// <summary>A person cancelled it; it is never retried.</summary>
    Cancelled,
}

/// <summary>Where one attempt of a job is, or how it ended.</summary>
public enum AttemptState
{
    /// <summary>Offered, not granted yet.</summary>
    Offered,

    /// <summary>Granted to a worker, which is running it.</summary>
    Running,

    /// <summary>The worker reported success.</summary>
    Succeeded,

    /// <summary>The worker reported a failure (exit code, missing metrics, runner error).</summary>
    Failed,

    /// <summary>It ran past the job's time limit and was stopped.</summary>
    TimedOut,

    /// <summary>Its worker fell silent (no heartbeat within the limit): killed, partitioned or stuck.</summary>
    Lost,

    /// <summary>Stopped on a person's request.</summary>
    Cancelled,

    /// <summary>Its worker shut down before it ended (a drain ran out of time): offered again at once, not counted as one of the job's attempts.</summary>
    Interrupted,
}

/// <summary>A job as the store holds it.</summary>
/// <param name="JobId">The job id (<c>&lt;run id&gt;-tune</c>, <c>&lt;run id&gt;-eval</c>).</param>
/// <param name="RunId">The run.</param>
/// <param name="AppId">The app.</param>
/// <param name="Kind">A <see cref="JobKinds"/> value.</param>
/// <param name="Spec">What workers run.</param>
/// <param name="State">Where it is.</param>
/// <param name="Attempt">The current (or last) attempt; 0 before the first offer.</param>
/// <param name="MaxAttempts">Attempts it may have.</param>
/// <param name="RetryBackoff">The wait before the second attempt (it doubles after that).</param>
/// <param name="HeartbeatTimeout">The silence after which a running attempt is given up on.</param>
/// <param name="DueAt">Pending: when the next offer is due. Offered: when the offer is sent again if nobody took it. Running with a cancel request: when the stop is sent again.</param>
/// <param name="CancelRequestedAt">When a person asked to cancel it, if they did.</param>
/// <param name="CancelReason">Why they did.</param>
/// <param name="ResultJson">The succeeded attempt's metrics.</param>
/// <param name="Reason">Why it ended, for a failed or cancelled job.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When its state last changed.</param>
public sealed record JobRecord(
    string JobId,
    string RunId,
    string AppId,
    string Kind,
    JobSpec Spec,
    JobState State,
    int Attempt,
    int MaxAttempts,
    TimeSpan RetryBackoff,
    TimeSpan HeartbeatTimeout,
    DateTimeOffset? DueAt,
    DateTimeOffset? CancelRequestedAt,
    string? CancelReason,
    string? ResultJson,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>True once the job can change no more.</summary>
    public bool IsFinal => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}

/// <summary>One attempt of a job as the store holds it.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt number (1-based).</param>
/// <param name="State">Where it is, or how it ended.</param>
/// <param name="WorkerId">The worker granted it; null while only offered.</param>
/// <param name="Slot">The worker's slot (GPU index).</param>
/// <param name="OfferedAt">When it was first offered.</param>
/// <param name="StartedAt">When it was granted.</param>
/// <param name="HeartbeatAt">When the orchestrator last heard from its worker.</param>
/// <param name="EndedAt">When it ended.</param>
/// <param name="Progress">The job's last output line, from the last heartbeat.</param>
/// <param name="Reason">Why it ended (not for a success).</param>
/// <param name="ExitCode">The command's exit code, when it ran to its end.</param>
/// <param name="LogPath">The log file on the worker.</param>
/// <param name="OutputPath">The folder it wrote.</param>
/// <param name="MetricsJson">Its metrics, when it succeeded.</param>
public sealed record AttemptRecord(
    string JobId,
    int Attempt,
    AttemptState State,
    string? WorkerId,
    int? Slot,
    DateTimeOffset OfferedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? HeartbeatAt,
    DateTimeOffset? EndedAt,
    string? Progress,
    string? Reason,
    int? ExitCode,
    string? LogPath,
    string? OutputPath,
    string? MetricsJson);

/// <summary>A job to create: what to run and how it is retried and watched.</summary>
public sealed record NewJob(string JobId, JobSpec Spec, int MaxAttempts, TimeSpan RetryBackoff, TimeSpan HeartbeatTimeout);
