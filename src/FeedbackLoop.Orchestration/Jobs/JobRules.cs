using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>The answer to a worker's claim.</summary>
public enum ClaimVerdict
{
    /// <summary>The attempt is offered and nobody has it: this worker gets it.</summary>
    Grant,

    /// <summary>This worker already has it (a duplicate claim): tell it again, change nothing.</summary>
    GrantAgain,

    /// <summary>Someone else has it, or it is not the current attempt, or the job is over.</summary>
    Refuse,
}

/// <summary>What to do with a worker's report (heartbeat, success, failure) about an attempt.</summary>
public enum ReportVerdict
{
    /// <summary>It is about the running attempt, from the worker that has it: record it.</summary>
    Current,

    /// <summary>It is about an attempt the orchestrator is no longer waiting for: record nothing (and stop a process that still beats).</summary>
    Stale,
}

/// <summary>
/// The job protocol's decisions as pure functions of the stored state, a report and the clock: who gets an attempt,
/// what follows an attempt's end, when silence or overtime ends one. The store applies them inside a transaction.
/// </summary>
public static class JobRules
{
    /// <summary>Who gets attempt <paramref name="claimedAttempt"/>: the first claim of the current, offered attempt wins.</summary>
    public static (ClaimVerdict Verdict, string Reason) ArbitrateClaim(
        JobState state, int currentAttempt, string? runningWorker, int claimedAttempt, string claimant) => state switch
    {
        _ when claimedAttempt != currentAttempt =>
            (ClaimVerdict.Refuse, FormattableString.Invariant($"attempt {claimedAttempt} is not the current one ({currentAttempt})")),
        JobState.Offered => (ClaimVerdict.Grant, "granted"),
        JobState.Running when runningWorker == claimant => (ClaimVerdict.GrantAgain, "already granted to this worker"),
        JobState.Running => (ClaimVerdict.Refuse, $"worker {runningWorker} has this attempt"),
        _ => (ClaimVerdict.Refuse, $"the job is {Text(state)}"),
    };

    /// <summary>Whether a report about <paramref name="attempt"/> from <paramref name="worker"/> is about the running attempt.</summary>
    public static ReportVerdict JudgeReport(JobState state, int currentAttempt, string? runningWorker, int attempt, string worker) =>
        state == JobState.Running && attempt == currentAttempt && worker == runningWorker ? ReportVerdict.Current : ReportVerdict.Stale;

    /// <summary>
    /// The wait before the attempt after failed attempt <paramref name="failedAttempt"/>: <paramref name="initial"/>, then
    /// doubling, capped at <see cref="Pipelines.JobSettings.MaxRetryBackoff"/> (or at <paramref name="initial"/> if that is longer).
    /// </summary>
    public static TimeSpan RetryDelay(int failedAttempt, TimeSpan initial)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        var cap = initial > Pipelines.JobSettings.MaxRetryBackoff ? initial : Pipelines.JobSettings.MaxRetryBackoff;
        // No jitter: each job backs off on its own schedule, and the supervisor sweep spreads the offers anyway.
        return new Backoff(initial, cap).Delay(failedAttempt - 1);
    }

    /// <summary>
    /// What follows the end of an attempt, the <paramref name="attempt"/>th that counts (interrupted ones do not): success
    /// ends the job; a cancellation (the attempt's, or a person's request) cancels it; an interruption (its worker shut
    /// down) offers it again at once, whatever the count; any other end retries after the backoff while attempts remain,
    /// else fails the job.
    /// </summary>
    public static (JobState Next, DateTimeOffset? DueAt) AfterAttempt(
        AttemptState ended, int attempt, int maxAttempts, bool cancelRequested, TimeSpan retryBackoff, DateTimeOffset now) => ended switch
    {
        AttemptState.Succeeded => (JobState.Succeeded, null),
        AttemptState.Offered or AttemptState.Running => throw new ArgumentOutOfRangeException(nameof(ended), ended, "the attempt has not ended"),
        AttemptState.Cancelled => (JobState.Cancelled, null),
        _ when cancelRequested => (JobState.Cancelled, null),
        AttemptState.Interrupted => (JobState.Pending, now),
        _ when attempt >= maxAttempts => (JobState.Failed, null),
        _ => (JobState.Pending, now + RetryDelay(attempt, retryBackoff)),
    };

    /// <summary>True when the running attempt's worker has been silent for longer than <paramref name="heartbeatTimeout"/>.</summary>
    public static bool IsSilent(DateTimeOffset lastHeard, DateTimeOffset now, TimeSpan heartbeatTimeout) => now - lastHeard > heartbeatTimeout;

    /// <summary>
    /// True when a running attempt is past its time limit by more than a heartbeat timeout: its worker should have stopped
    /// it and said so by then, so the orchestrator stops waiting (the backstop of the worker's own limit).
    /// </summary>
    public static bool IsOverdue(DateTimeOffset startedAt, DateTimeOffset now, TimeSpan jobTimeout, TimeSpan heartbeatTimeout) =>
        now - startedAt > jobTimeout + heartbeatTimeout;

    /// <summary>The attempt state a worker's <see cref="JobOutcomes"/> value stands for.</summary>
    /// <exception cref="ArgumentException">Not an outcome this build knows.</exception>
    public static AttemptState AttemptStateOf(string outcome) => outcome switch
    {
        JobOutcomes.Failed => AttemptState.Failed,
        JobOutcomes.TimedOut => AttemptState.TimedOut,
        JobOutcomes.Cancelled => AttemptState.Cancelled,
        JobOutcomes.Interrupted => AttemptState.Interrupted,
        _ => throw new ArgumentException($"unknown job outcome '{outcome}'", nameof(outcome)),
    };

    /// <summary>The state's name as stored and shown.</summary>
    public static string Text(JobState state) => state switch
    {
        JobState.Pending => "pending",
        JobState.Offered => "offered",
        JobState.Running => "running",
        JobState.Succeeded => "succeeded",
        JobState.Failed => "failed",
        JobState.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not a job state"),
    };

    /// <summary>The state's name as stored and shown.</summary>
    public static string Text(AttemptState state) => state switch
    {
        AttemptState.Offered => "offered",
        AttemptState.Running => "running",
        AttemptState.Succeeded => "succeeded",
        AttemptState.Failed => "failed",
        AttemptState.TimedOut => "timed_out",
        AttemptState.Lost => "lost",
        AttemptState.Cancelled => "cancelled",
        AttemptState.Interrupted => "interrupted",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not an attempt state"),
    };

    /// <summary>Parses a stored job state.</summary>
    public static JobState ParseJobState(string text) =>
        Enum.GetValues<JobState>().FirstOrDefault(s => Text(s) == text, (JobState)(-1)) is var state && state >= 0
            ? state
            : throw new InvalidDataException($"job state '{text}' is unknown to this build");

    /// <summary>Parses a stored attempt state.</summary>
    public static AttemptState ParseAttemptState(string text) =>
        Enum.GetValues<AttemptState>().FirstOrDefault(s => Text(s) == text, (AttemptState)(-1)) is var state && state >= 0
            ? state
            : throw new InvalidDataException($"attempt state '{text}' is unknown to this build");
}
