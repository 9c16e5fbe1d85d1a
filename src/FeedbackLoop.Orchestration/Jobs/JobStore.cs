using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Store;
using Dapper;
using System.Data.Common;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>The answer to a claim.</summary>
public sealed record ClaimOutcome(ClaimVerdict Verdict, string Reason);

/// <summary>What recording an attempt's end did.</summary>
/// <param name="Recorded">False for a duplicate or a report about an attempt that is no longer current (nothing changed).</param>
/// <param name="JobState">The job's state after it.</param>
/// <param name="RunId">The job's run, to advance; null when the job is unknown.</param>
public sealed record AttemptEnd(bool Recorded, JobState? JobState, string? RunId);

/// <summary>An attempt that ended without its worker's word (given up on, or cancelled), and the run to advance.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Attempt">The attempt.</param>
/// <param name="WorkerId">The worker to tell to stop it; null when no worker had it (a job cancelled before it ran).</param>
/// <param name="Reason">Why.</param>
/// <param name="RunId">The job's run.</param>
public sealed record StopOrder(string JobId, int Attempt, string? WorkerId, string Reason, string RunId);

/// <summary>
/// The durable jobs and attempts, in the registry's database. The orchestrator is the only writer of job state (the CLI
/// only files cancel requests), and every transition is one transaction that checks the state it starts from, so
/// duplicates and stale reports are no-ops and a killed orchestrator resumes from exactly what is stored.
/// </summary>
public sealed class JobStore
{
    private const string JobColumns =
        """
        SELECT job_id, run_id, app_id, kind, spec, state, attempt, max_attempts, retry_backoff_seconds, heartbeat_timeout_seconds,
               due_at, cancel_requested_at, cancel_reason, result, reason, created_at, updated_at
        FROM jobs
        """;

    private const string AttemptColumns =
        """
        SELECT job_id, attempt, state, worker_id, slot, offered_at, started_at, heartbeat_at, ended_at, progress, reason, exit_code,
               log_path, output_path, metrics
        FROM attempts
        """;

    private static readonly JsonSerializerOptions SpecJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly StoreDatabase _database;
    private readonly TimeProvider _clock;

    /// <summary>Opens the job tables in the store file at <paramref name="databasePath"/> (creating and migrating it as needed).</summary>
    /// <exception cref="InvalidDataException">The file was written by a newer build.</exception>
    public JobStore(string databasePath, TimeProvider? clock = null)
        : this(StoreDatabase.Open(databasePath, clock), clock)
    {
    }

    /// <summary>The job tables of an opened store (the registry's: <see cref="Registry.ModelRegistry.Database"/>).</summary>
    public JobStore(StoreDatabase database, TimeProvider? clock = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>Creates the job, pending and due now.</summary>
    /// <returns>True when created now; false when a job of that id exists (it is kept as it is).</returns>
    /// <exception cref="InvalidOperationException">The id names a job of another run.</exception>
    public bool Create(NewJob job)
    {
        ArgumentException.ThrowIfNullOrEmpty(job.JobId);
        ArgumentOutOfRangeException.ThrowIfLessThan(job.MaxAttempts, 1);
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var now = Now();
        var inserted = connection.Execute(
            """
            INSERT INTO jobs (job_id, run_id, app_id, kind, spec, state, attempt, max_attempts, retry_backoff_seconds,
                              heartbeat_timeout_seconds, due_at, created_at, updated_at)
            VALUES (@job_id, @run_id, @app_id, @kind, @spec, @pending, 0, @max_attempts, @backoff, @heartbeat, @now, @now, @now)
            ON CONFLICT (job_id) DO NOTHING
            """,
            new
            {
                job_id = job.JobId, run_id = job.Spec.RunId, app_id = job.Spec.AppId, kind = job.Spec.Kind,
                spec = JsonSerializer.Serialize(job.Spec, SpecJson), pending = JobRules.Text(JobState.Pending),
                max_attempts = job.MaxAttempts, backoff = job.RetryBackoff.TotalSeconds, heartbeat = job.HeartbeatTimeout.TotalSeconds,
                now,
            },
            transaction);
        if (inserted == 0 && ReadJob(connection, transaction, job.JobId) is { } existing && existing.RunId != job.Spec.RunId)
        {
            throw new InvalidOperationException($"job id '{job.JobId}' already belongs to run '{existing.RunId}'");
        }

        transaction.Commit();
        return inserted == 1;
    }

    /// <summary>The job, or null when unknown.</summary>
    public JobRecord? Get(string jobId)
    {
        using var connection = _database.Connect();
        return ReadJob(connection, null, jobId);
    }

    /// <summary>Jobs, newest first, optionally of one app and/or in one state; at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<JobRecord> List(string? appId = null, JobState? state = null, int limit = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Connect();
        var rows = connection.Query<JobRow>(
            $"""
            {JobColumns}
            WHERE (@app_id IS NULL OR app_id = @app_id) AND (@state IS NULL OR state = @state)
            ORDER BY created_at DESC, job_id DESC
            LIMIT @limit
            """,
            new { app_id = appId, state = state is null ? null : JobRules.Text(state.Value), limit });
        return [.. rows.Select(row => row.ToRecord())];
    }

    /// <summary>The job's attempts, first first.</summary>
    public IReadOnlyList<AttemptRecord> Attempts(string jobId)
    {
        using var connection = _database.Connect();
        return [.. connection.Query<AttemptRow>($"{AttemptColumns} WHERE job_id = @job_id ORDER BY attempt", new { job_id = jobId })
            .Select(row => row.ToRecord())];
    }

    /// <summary>Ids of the jobs whose offer is due: pending ones past their backoff, and offers nobody took in time.</summary>
    public IReadOnlyList<string> DueForOffer()
    {
        using var connection = _database.Connect();
        return [.. connection.Query<string>(
            "SELECT job_id FROM jobs WHERE state IN (@pending, @offered) AND due_at <= @now AND cancel_requested_at IS NULL ORDER BY due_at, job_id",
            new { pending = JobRules.Text(JobState.Pending), offered = JobRules.Text(JobState.Offered), now = Now() })];
    }

    /// <summary>
    /// Offers the job if its offer is due: a pending job gets its next attempt; an offered one whose offer nobody took
    /// within <paramref name="offerAgainAfter"/> is offered again (the same attempt: whichever copy is claimed first wins).
    /// </summary>
    /// <returns>The offer to send, or null when none is due (or a cancel request is pending).</returns>
    public JobOffered? TryOffer(string jobId, TimeSpan offerAgainAfter) => TryOffer(jobId, offerAgainAfter, out _);

    /// <summary>As <see cref="TryOffer(string, TimeSpan)"/>; <paramref name="unclaimed"/> says the attempt was offered before and nobody claimed it.</summary>
    public JobOffered? TryOffer(string jobId, TimeSpan offerAgainAfter, out bool unclaimed)
    {
        unclaimed = false;
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var job = ReadJob(connection, transaction, jobId);
        var now = _clock.GetUtcNow();
        if (job is null || job.CancelRequestedAt is not null || job.DueAt is not { } due || due > now
            || job.State is not (JobState.Pending or JobState.Offered))
        {
            return null;
        }

        var attempt = job.State == JobState.Pending ? job.Attempt + 1 : job.Attempt;
        if (job.State == JobState.Pending)
        {
            connection.Execute(
                "INSERT INTO attempts (job_id, attempt, state, offered_at) VALUES (@job_id, @attempt, @offered, @now)",
                new
                {
                    job_id = jobId, attempt, offered = JobRules.Text(AttemptState.Offered), now = StoreText.Timestamp(now),
                },
                transaction);
        }

        UpdateJob(connection, transaction, jobId, JobState.Offered, attempt, now + offerAgainAfter, now);
        transaction.Commit();
        unclaimed = job.State == JobState.Offered;
        return new JobOffered(jobId, attempt, job.Spec);
    }

    /// <summary>Decides a worker's claim and records a grant.</summary>
    public ClaimOutcome Claim(JobClaimed claim)
    {
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        if (ReadJob(connection, transaction, claim.JobId) is not { } job)
        {
            return new ClaimOutcome(ClaimVerdict.Refuse, "the job is unknown to this orchestrator");
        }

        var running = ReadAttempt(connection, transaction, claim.JobId, job.Attempt);
        var (verdict, reason) = job.CancelRequestedAt is not null && job.State == JobState.Offered
            ? (ClaimVerdict.Refuse, "the job is being cancelled")
            : JobRules.ArbitrateClaim(job.State, job.Attempt, running?.WorkerId, claim.Attempt, claim.WorkerId);
        if (verdict == ClaimVerdict.Grant)
        {
            var now = Now();
            connection.Execute(
                """
                UPDATE attempts SET state = @running, worker_id = @worker, slot = @slot, started_at = @now, heartbeat_at = @now, log_path = @log
                WHERE job_id = @job_id AND attempt = @attempt
                """,
                new
                {
                    running = JobRules.Text(AttemptState.Running), worker = claim.WorkerId, slot = claim.Slot, now, log = claim.LogPath,
                    job_id = claim.JobId, attempt = claim.Attempt,
                },
                transaction);
            UpdateJob(connection, transaction, claim.JobId, JobState.Running, job.Attempt, dueAt: null, _clock.GetUtcNow());
        }

        transaction.Commit();
        return new ClaimOutcome(verdict, reason);
    }

    /// <summary>Records that the running attempt's worker is alive (at the orchestrator's clock, so no clock skew matters).</summary>
    /// <returns><see cref="ReportVerdict.Stale"/> when the attempt is not the running one: its process should be stopped.</returns>
    public ReportVerdict Heartbeat(JobHeartbeat beat)
    {
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var job = ReadJob(connection, transaction, beat.JobId);
        if (job is null)
        {
            return ReportVerdict.Stale;
        }

        var running = ReadAttempt(connection, transaction, beat.JobId, job.Attempt);
        var verdict = JobRules.JudgeReport(job.State, job.Attempt, running?.WorkerId, beat.Attempt, beat.WorkerId);
        if (verdict == ReportVerdict.Current)
        {
            connection.Execute(
                "UPDATE attempts SET heartbeat_at = @now, progress = COALESCE(@progress, progress) WHERE job_id = @job_id AND attempt = @attempt",
                new { now = Now(), progress = beat.Progress, job_id = beat.JobId, attempt = beat.Attempt },
                transaction);
            transaction.Commit();
        }

        return verdict;
    }

    /// <summary>Records a success of the running attempt; a duplicate or a stale report changes nothing.</summary>
    public AttemptEnd Succeed(JobSucceeded report) =>
        EndAttempt(report.JobId, report.Attempt, report.WorkerId, AttemptState.Succeeded, reason: null, exitCode: 0,
            report.OutputDirectory, report.MetricsJson);

    /// <summary>Records a failure, time-out or cancellation of the running attempt; a duplicate or a stale report changes nothing.</summary>
    public AttemptEnd Fail(JobFailed report) =>
        EndAttempt(report.JobId, report.Attempt, report.WorkerId, JobRules.AttemptStateOf(report.Outcome), report.Reason, report.ExitCode,
            outputPath: null, metricsJson: null);

    /// <summary>
    /// Ends running attempts the orchestrator stops waiting for: silent ones (no heartbeat within the job's limit) as lost,
    /// ones past their time limit (plus a heartbeat timeout of slack for the worker to report it) as timed out.
    /// </summary>
    /// <returns>The attempts ended, whose workers are told to stop in case they still run them.</returns>
    public IReadOnlyList<StopOrder> ExpireAttempts()
    {
        var now = _clock.GetUtcNow();
        var expired = new List<(JobRecord Job, AttemptRecord Attempt, AttemptState End, string Reason)>();
        using (var connection = _database.Connect())
        {
            foreach (var job in ReadJobs(connection, null, "state = @state", new { state = JobRules.Text(JobState.Running) }))
            {
                if (ReadAttempt(connection, null, job.JobId, job.Attempt) is not { State: AttemptState.Running } attempt)
                {
                    continue;
                }

                if (JobRules.IsSilent(attempt.HeartbeatAt ?? attempt.OfferedAt, now, job.HeartbeatTimeout))
                {
                    expired.Add((job, attempt, AttemptState.Lost, string.Create(CultureInfo.InvariantCulture,
                        $"no heartbeat from worker {attempt.WorkerId} for {(now - (attempt.HeartbeatAt ?? attempt.OfferedAt)).TotalSeconds:0.#} s (limit {job.HeartbeatTimeout.TotalSeconds:0.#} s)")));
                }
                else if (JobRules.IsOverdue(attempt.StartedAt ?? attempt.OfferedAt, now, TimeSpan.FromSeconds(job.Spec.TimeoutSeconds), job.HeartbeatTimeout))
                {
                    expired.Add((job, attempt, AttemptState.TimedOut, string.Create(CultureInfo.InvariantCulture,
                        $"still running {(now - (attempt.StartedAt ?? attempt.OfferedAt)).TotalSeconds:0.#} s after it started (limit {job.Spec.TimeoutSeconds:0.#} s) and its worker did not stop it")));
                }
            }
        }

        var orders = new List<StopOrder>();
        foreach (var (job, attempt, end, reason) in expired)
        {
            // Re-checked inside EndAttempt's transaction: a report that arrived meanwhile wins.
            if (EndAttempt(job.JobId, attempt.Attempt, attempt.WorkerId!, end, reason, exitCode: null, outputPath: null, metricsJson: null).Recorded)
            {
                orders.Add(new StopOrder(job.JobId, attempt.Attempt, attempt.WorkerId!, reason, job.RunId));
            }
        }

        return orders;
    }

    /// <summary>Files a person's request to cancel the job; the orchestrator carries it out (and stops a running attempt).</summary>
    /// <returns>The job as it is after the request.</returns>
    /// <exception cref="InvalidOperationException">The job is unknown or already over.</exception>
    public JobRecord RequestCancel(string jobId, string reason)
    {
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var job = ReadJob(connection, transaction, jobId) ?? throw new InvalidOperationException($"job '{jobId}' is unknown");
        if (job.IsFinal)
        {
            throw new InvalidOperationException($"job '{jobId}' is already {JobRules.Text(job.State)}");
        }

        // due_at now: the orchestrator acts on it at its next sweep.
        connection.Execute(
            "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, @now), cancel_reason = COALESCE(cancel_reason, @reason), due_at = @now WHERE job_id = @job_id",
            new { now = Now(), reason, job_id = jobId },
            transaction);
        var updated = ReadJob(connection, transaction, jobId)!;
        transaction.Commit();
        return updated;
    }

    /// <summary>
    /// Carries out cancel requests: a job nobody runs is cancelled at once; a running one is asked to stop (again every
    /// <paramref name="stopAgainAfter"/>, until its worker reports the attempt's end or it is given up on).
    /// </summary>
    /// <returns>The stops to send, and (with no worker) the jobs cancelled here; either way their runs advance.</returns>
    public IReadOnlyList<StopOrder> ApplyCancellations(TimeSpan stopAgainAfter)
    {
        var now = _clock.GetUtcNow();
        var orders = new List<StopOrder>();
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var requested = ReadJobs(connection, transaction, "cancel_requested_at IS NOT NULL AND state IN (@pending, @offered, @running) AND due_at <= @now",
            new
            {
                pending = JobRules.Text(JobState.Pending), offered = JobRules.Text(JobState.Offered), running = JobRules.Text(JobState.Running),
                now = StoreText.Timestamp(now),
            });
        foreach (var job in requested)
        {
            var reason = "cancelled: " + (job.CancelReason ?? "on request");
            if (job.State == JobState.Running && ReadAttempt(connection, transaction, job.JobId, job.Attempt) is { WorkerId: { } worker })
            {
                orders.Add(new StopOrder(job.JobId, job.Attempt, worker, reason, job.RunId));
                UpdateJob(connection, transaction, job.JobId, JobState.Running, job.Attempt, now + stopAgainAfter, now);
                continue;
            }

            if (job.Attempt > 0)
            {
                connection.Execute(
                    "UPDATE attempts SET state = @cancelled, ended_at = @now, reason = @reason WHERE job_id = @job_id AND attempt = @attempt AND state = @offered",
                    new
                    {
                        cancelled = JobRules.Text(AttemptState.Cancelled), now = StoreText.Timestamp(now), reason, job_id = job.JobId,
                        attempt = job.Attempt, offered = JobRules.Text(AttemptState.Offered),
                    },
                    transaction);
            }

            connection.Execute(
                "UPDATE jobs SET state = @cancelled, due_at = NULL, reason = @reason, updated_at = @now WHERE job_id = @job_id",
                new
                {
                    cancelled = JobRules.Text(JobState.Cancelled), reason, now = StoreText.Timestamp(now), job_id = job.JobId,
                },
                transaction);
            orders.Add(new StopOrder(job.JobId, job.Attempt, null, reason, job.RunId));
        }

        transaction.Commit();
        return orders;
    }

    /// <summary>
    /// At the orchestrator's start: the time it was down must not count as the workers' silence (their heartbeats waited
    /// in the queue), so every running attempt counts as heard now; and offers sent before the stop may be gone with an
    /// in-memory bus, so every offered job is offered again at once.
    /// </summary>
    /// <returns>How many jobs were running or offered.</returns>
    public int WatchAgain()
    {
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        var now = Now();
        var running = connection.Execute(
            """
            UPDATE attempts SET heartbeat_at = @now
            WHERE state = @running AND EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = attempts.job_id AND j.attempt = attempts.attempt)
            """,
            new
            {
                now, running = JobRules.Text(AttemptState.Running),
            },
            transaction);
        var offered = connection.Execute(
            "UPDATE jobs SET due_at = @now WHERE state = @offered",
            new { now, offered = JobRules.Text(JobState.Offered) },
            transaction);
        transaction.Commit();
        return running + offered;
    }

    private AttemptEnd EndAttempt(
        string jobId, int attempt, string workerId, AttemptState end, string? reason, int? exitCode, string? outputPath, string? metricsJson)
    {
        using var connection = _database.Connect();
        using var transaction = _database.BeginWrite(connection);
        if (ReadJob(connection, transaction, jobId) is not { } job)
        {
            return new AttemptEnd(false, null, null);
        }

        var running = ReadAttempt(connection, transaction, jobId, job.Attempt);
        if (JobRules.JudgeReport(job.State, job.Attempt, running?.WorkerId, attempt, workerId) == ReportVerdict.Stale)
        {
            return new AttemptEnd(false, job.State, job.RunId);
        }

        var now = _clock.GetUtcNow();
        connection.Execute(
            """
            UPDATE attempts SET state = @state, ended_at = @now, reason = @reason, exit_code = @exit_code, output_path = @output, metrics = @metrics
            WHERE job_id = @job_id AND attempt = @attempt
            """,
            new
            {
                state = JobRules.Text(end), now = StoreText.Timestamp(now), reason, exit_code = exitCode, output = outputPath,
                metrics = metricsJson, job_id = jobId, attempt,
            },
            transaction);
        // Attempts cut short by a worker's shutdown say nothing about the job: they do not count against its attempts.
        var interrupted = connection.ExecuteScalar<long>(
            "SELECT COUNT(*) FROM attempts WHERE job_id = @job_id AND state = @interrupted",
            new { job_id = jobId, interrupted = JobRules.Text(AttemptState.Interrupted) }, transaction);
        var counted = attempt - (int)interrupted;
        var (next, due) = JobRules.AfterAttempt(end, counted, job.MaxAttempts, job.CancelRequestedAt is not null, job.RetryBackoff, now);
        var jobReason = next switch
        {
            JobState.Failed => string.Create(CultureInfo.InvariantCulture, $"attempt {counted} of {job.MaxAttempts} {JobRules.Text(end)}: {reason}"),
            JobState.Cancelled => end == AttemptState.Cancelled ? reason : "cancelled: " + (job.CancelReason ?? "on request"),
            _ => null,
        };
        connection.Execute(
            """
            UPDATE jobs SET state = @state, due_at = @due, result = COALESCE(@result, result), reason = @reason, updated_at = @now
            WHERE job_id = @job_id
            """,
            new
            {
                state = JobRules.Text(next), due = due is null ? null : StoreText.Timestamp(due.Value),
                result = end == AttemptState.Succeeded ? metricsJson : null, reason = jobReason, now = StoreText.Timestamp(now),
                job_id = jobId,
            },
            transaction);
        transaction.Commit();
        return new AttemptEnd(true, next, job.RunId);
    }

    private string Now() => StoreText.Timestamp(_clock.GetUtcNow());

    private static void UpdateJob(DbConnection connection, DbTransaction transaction, string jobId, JobState state, int attempt,
        DateTimeOffset? dueAt, DateTimeOffset now) =>
        connection.Execute(
            "UPDATE jobs SET state = @state, attempt = @attempt, due_at = @due, updated_at = @now WHERE job_id = @job_id",
            new
            {
                state = JobRules.Text(state), attempt, due = dueAt is null ? null : StoreText.Timestamp(dueAt.Value),
                now = StoreText.Timestamp(now), job_id = jobId,
            },
            transaction);

    private static List<JobRecord> ReadJobs(DbConnection connection, DbTransaction? transaction, string where, object parameters) =>
        [.. connection.Query<JobRow>($"{JobColumns} WHERE {where} ORDER BY created_at, job_id", parameters, transaction).Select(row => row.ToRecord())];

    private static JobRecord? ReadJob(DbConnection connection, DbTransaction? transaction, string jobId) =>
        connection.QuerySingleOrDefault<JobRow>($"{JobColumns} WHERE job_id = @job_id", new { job_id = jobId }, transaction)?.ToRecord();

    private static AttemptRecord? ReadAttempt(DbConnection connection, DbTransaction? transaction, string jobId, int attempt) =>
        connection.QuerySingleOrDefault<AttemptRow>($"{AttemptColumns} WHERE job_id = @job_id AND attempt = @attempt", new { job_id = jobId, attempt }, transaction)
            ?.ToRecord();

    private static DateTimeOffset? OptionalTimestamp(string? text) => text is null ? null : StoreText.ParseTimestamp(text);

    // The rows as the tables hold them, filled by column name (job_id fills JobId); text columns stay text here and are
    // parsed in one place each (StoreText, JobRules).
    private sealed class JobRow
    {
        public string JobId { get; init; } = "";
        public string RunId { get; init; } = "";
        public string AppId { get; init; } = "";
        public string Kind { get; init; } = "";
        public string Spec { get; init; } = "";
        public string State { get; init; } = "";
        public int Attempt { get; init; }
        public int MaxAttempts { get; init; }
        public double RetryBackoffSeconds { get; init; }
        public double HeartbeatTimeoutSeconds { get; init; }
        public string? DueAt { get; init; }
        public string? CancelRequestedAt { get; init; }
        public string? CancelReason { get; init; }
        public string? Result { get; init; }
        public string? Reason { get; init; }
        public string CreatedAt { get; init; } = "";
        public string UpdatedAt { get; init; } = "";

        public JobRecord ToRecord() => new(
            JobId, RunId, AppId, Kind,
            JsonSerializer.Deserialize<JobSpec>(Spec, SpecJson) ?? throw new InvalidDataException("a job's spec is JSON null"),
            JobRules.ParseJobState(State), Attempt, MaxAttempts, TimeSpan.FromSeconds(RetryBackoffSeconds), TimeSpan.FromSeconds(HeartbeatTimeoutSeconds),
            OptionalTimestamp(DueAt), OptionalTimestamp(CancelRequestedAt), CancelReason, Result, Reason,
            StoreText.ParseTimestamp(CreatedAt), StoreText.ParseTimestamp(UpdatedAt));
    }

    private sealed class AttemptRow
    {
        public string JobId { get; init; } = "";
        public int Attempt { get; init; }
        public string State { get; init; } = "";
        public string? WorkerId { get; init; }
        public int? Slot { get; init; }
        public string OfferedAt { get; init; } = "";
        public string? StartedAt { get; init; }
        public string? HeartbeatAt { get; init; }
        public string? EndedAt { get; init; }
        public string? Progress { get; init; }
        public string? Reason { get; init; }
        public int? ExitCode { get; init; }
        public string? LogPath { get; init; }
        public string? OutputPath { get; init; }
        public string? Metrics { get; init; }

        public AttemptRecord ToRecord() => new(
            JobId, Attempt, JobRules.ParseAttemptState(State), WorkerId, Slot, StoreText.ParseTimestamp(OfferedAt),
            OptionalTimestamp(StartedAt), OptionalTimestamp(HeartbeatAt), OptionalTimestamp(EndedAt), Progress, Reason, ExitCode,
            LogPath, OutputPath, Metrics);
    }
}
