using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Jobs;

/// <summary>The durable job store's transitions on a real SQLite file with a fake clock: each is idempotent and checks its starting state.</summary>
/// <summary>Run on both engines: <see cref="JobStoreTestsOnSqlite"/> and <see cref="JobStoreTestsOnPostgres"/> (below).</summary>
public abstract class JobStoreTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OfferAgain = TimeSpan.FromMinutes(5);
    private const string Job = "demo-run-1-tune";

    private readonly TempDatabase _database;
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly JobStore _jobs;

    protected JobStoreTests(PostgresServer? server)
    {
        _database = new TempDatabase(server);
        var registry = new ModelRegistry(_database.Location, _clock);
        registry.TryStartRun("demo-run-1", "demo", new DatasetSnapshot("demo", [new SnapshotFile("/data/p.parquet", 10)]));
        _jobs = new JobStore(_database.Location, _clock);
    }

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    private static JobSpec Spec(double timeoutSeconds = 600) => new(
        JobKinds.Tune, JobRunners.Command, "demo-run-1", "demo", "demo-m10", [new SnapshotFile("/data/p.parquet", 10)], 0.2, 42,
        "/models/demo-m10", ["train", "{output}"], [], new Dictionary<string, string> { ["app"] = "demo" }, null, null, null, timeoutSeconds);

    private void Create(int maxAttempts = 3, double timeoutSeconds = 600) =>
        _jobs.Create(new NewJob(Job, Spec(timeoutSeconds), maxAttempts, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)));

    /// <summary>Offers the job and grants attempt <paramref name="attempt"/> to <paramref name="worker"/>.</summary>
    private void Running(string worker = "w1", int attempt = 1)
    {
        Assert.Equal(attempt, _jobs.TryOffer(Job, OfferAgain)!.Attempt);
        Assert.Equal(ClaimVerdict.Grant, _jobs.Claim(new JobClaimed(Job, attempt, worker, 0, $"/logs/{attempt}.log")).Verdict);
    }

    private static JobFailed Failure(int attempt, string worker = "w1", string outcome = JobOutcomes.Failed) =>
        new(Job, attempt, worker, outcome, "exit 3", 3, 1.5);

    [Fact]
    public void A_new_job_is_pending_and_due_now_and_creating_it_again_changes_nothing()
    {
        Create();
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.False(_jobs.Create(new NewJob(Job, Spec(), 9, TimeSpan.FromHours(1), TimeSpan.FromHours(1))));

        var job = _jobs.Get(Job)!;
        Assert.Equal((JobState.Pending, 0, 3, Start), (job.State, job.Attempt, job.MaxAttempts, job.DueAt!.Value));
        Assert.Equal(Spec().Command, job.Spec.Command);
        Assert.Equal(["demo-run-1-tune"], _jobs.DueForOffer());
    }

    [Fact]
    public void An_offer_starts_an_attempt_and_an_untaken_offer_is_sent_again_later_as_the_same_attempt()
    {
        Create();

        var first = _jobs.TryOffer(Job, OfferAgain);
        var tooSoon = _jobs.TryOffer(Job, OfferAgain);
        _clock.Advance(OfferAgain);
        var again = _jobs.TryOffer(Job, OfferAgain);

        Assert.Equal(1, first!.Attempt);
        Assert.Null(tooSoon);
        Assert.Equal(1, again!.Attempt);
        var attempt = Assert.Single(_jobs.Attempts(Job));
        Assert.Equal((AttemptState.Offered, Start), (attempt.State, attempt.OfferedAt));
    }

    [Fact]
    public void The_first_claim_is_granted_a_duplicate_is_granted_again_and_any_other_is_refused()
    {
        Create();
        _jobs.TryOffer(Job, OfferAgain);

        var first = _jobs.Claim(new JobClaimed(Job, 1, "w1", 2, "/w1/log"));
        var duplicate = _jobs.Claim(new JobClaimed(Job, 1, "w1", 2, "/w1/log"));
        var rival = _jobs.Claim(new JobClaimed(Job, 1, "w2", 0, "/w2/log"));
        var stale = _jobs.Claim(new JobClaimed(Job, 0, "w3", 0, "/w3/log"));
        var unknown = _jobs.Claim(new JobClaimed("no-such-job", 1, "w3", 0, "/w3/log"));

        Assert.Equal(ClaimVerdict.Grant, first.Verdict);
        Assert.Equal(ClaimVerdict.GrantAgain, duplicate.Verdict);
        Assert.Equal((ClaimVerdict.Refuse, "worker w1 has this attempt"), (rival.Verdict, rival.Reason));
        Assert.Equal(ClaimVerdict.Refuse, stale.Verdict);
        Assert.Equal(ClaimVerdict.Refuse, unknown.Verdict);
        var attempt = Assert.Single(_jobs.Attempts(Job));
        Assert.Equal((AttemptState.Running, "w1", 2, "/w1/log"), (attempt.State, attempt.WorkerId, attempt.Slot, attempt.LogPath));
        Assert.Equal(JobState.Running, _jobs.Get(Job)!.State);
    }

    [Fact]
    public void A_heartbeat_of_the_running_attempt_is_recorded_at_the_orchestrators_clock_and_any_other_is_stale()
    {
        Create();
        Running();
        _clock.Advance(TimeSpan.FromSeconds(20));

        var current = _jobs.Heartbeat(new JobHeartbeat(Job, 1, "w1", 999, "epoch 3/20"));
        var otherWorker = _jobs.Heartbeat(new JobHeartbeat(Job, 1, "w2", 1, "?"));
        var otherAttempt = _jobs.Heartbeat(new JobHeartbeat(Job, 2, "w1", 1, "?"));

        Assert.Equal((ReportVerdict.Current, ReportVerdict.Stale, ReportVerdict.Stale), (current, otherWorker, otherAttempt));
        var attempt = Assert.Single(_jobs.Attempts(Job));
        Assert.Equal((Start.AddSeconds(20), "epoch 3/20"), (attempt.HeartbeatAt!.Value, attempt.Progress));
    }

    [Fact]
    public void A_failed_attempt_is_retried_after_its_doubling_backoff_until_the_limit_then_the_job_fails()
    {
        Create(maxAttempts: 3);
        Running(attempt: 1);
        Assert.True(_jobs.Fail(Failure(1)).Recorded);
        Assert.Null(_jobs.TryOffer(Job, OfferAgain));
        _clock.Advance(TimeSpan.FromSeconds(10));
        Running("w2", attempt: 2);
        _jobs.Fail(Failure(2, "w2"));
        _clock.Advance(TimeSpan.FromSeconds(19));
        Assert.Null(_jobs.TryOffer(Job, OfferAgain));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Running("w1", attempt: 3);

        var last = _jobs.Fail(Failure(3));

        Assert.Equal((true, JobState.Failed, "demo-run-1"), (last.Recorded, last.JobState, last.RunId));
        var job = _jobs.Get(Job)!;
        Assert.Equal("attempt 3 of 3 failed: exit 3", job.Reason);
        Assert.Null(job.DueAt);
        Assert.Equal([AttemptState.Failed, AttemptState.Failed, AttemptState.Failed], _jobs.Attempts(Job).Select(a => a.State));
        Assert.Equal([3, 3, 3], _jobs.Attempts(Job).Select(a => a.ExitCode));
        Assert.Null(_jobs.TryOffer(Job, OfferAgain));
    }

    [Fact]
    public void Success_keeps_the_metrics_and_a_duplicate_or_a_late_report_changes_nothing()
    {
        Create();
        Running();
        var success = new JobSucceeded(Job, 1, "w1", "/models/demo-m10/tune-1", """{"train_pairs":8}""", 3);

        var first = _jobs.Succeed(success);
        var duplicate = _jobs.Succeed(success);
        var late = _jobs.Fail(Failure(1));

        Assert.True(first.Recorded);
        Assert.False(duplicate.Recorded);
        Assert.False(late.Recorded);
        var job = _jobs.Get(Job)!;
        Assert.Equal((JobState.Succeeded, """{"train_pairs":8}"""), (job.State, job.ResultJson));
        var attempt = Assert.Single(_jobs.Attempts(Job));
        Assert.Equal((AttemptState.Succeeded, "/models/demo-m10/tune-1", (int?)0), (attempt.State, attempt.OutputPath, attempt.ExitCode));
    }

    [Fact]
    public void A_silent_attempt_is_lost_its_worker_told_to_stop_and_the_job_retried_and_its_late_success_ignored()
    {
        Create();
        Running("w1");
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(_jobs.ExpireAttempts());
        _clock.Advance(TimeSpan.FromSeconds(1));

        var stops = _jobs.ExpireAttempts();

        var stop = Assert.Single(stops);
        Assert.Equal((Job, 1, "w1", "demo-run-1"), (stop.JobId, stop.Attempt, stop.WorkerId, stop.RunId));
        Assert.Equal("no heartbeat from worker w1 for 31 s (limit 30 s)", stop.Reason);
        Assert.Equal(AttemptState.Lost, _jobs.Attempts(Job)[0].State);
        Assert.Equal(JobState.Pending, _jobs.Get(Job)!.State);
        Assert.False(_jobs.Succeed(new JobSucceeded(Job, 1, "w1", "/x", "{}", 1)).Recorded);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Running("w2", attempt: 2);
        Assert.Equal(2, _jobs.Attempts(Job).Count);
    }

    [Fact]
    public void An_attempt_past_its_time_limit_and_a_heartbeat_timeout_is_ended_as_timed_out_even_while_it_beats()
    {
        Create(timeoutSeconds: 60);
        Running();
        for (var i = 0; i < 9; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(10));
            _jobs.Heartbeat(new JobHeartbeat(Job, 1, "w1", 0, null));
            Assert.Empty(_jobs.ExpireAttempts());
        }

        _clock.Advance(TimeSpan.FromSeconds(1));
        _jobs.Heartbeat(new JobHeartbeat(Job, 1, "w1", 0, null));

        var stop = Assert.Single(_jobs.ExpireAttempts());
        Assert.StartsWith("still running 91 s after it started (limit 60 s)", stop.Reason, StringComparison.Ordinal);
        Assert.Equal(AttemptState.TimedOut, _jobs.Attempts(Job)[0].State);
    }

    [Fact]
    public void Cancelling_a_job_nobody_runs_ends_it_at_the_next_sweep_without_a_worker_to_stop()
    {
        Create();
        _jobs.TryOffer(Job, OfferAgain);

        var requested = _jobs.RequestCancel(Job, "wrong data");
        var refused = _jobs.Claim(new JobClaimed(Job, 1, "w1", 0, "/log"));
        var orders = _jobs.ApplyCancellations(TimeSpan.FromSeconds(30));

        Assert.Equal(JobState.Offered, requested.State);
        Assert.Equal((ClaimVerdict.Refuse, "the job is being cancelled"), (refused.Verdict, refused.Reason));
        var order = Assert.Single(orders);
        Assert.Null(order.WorkerId);
        var job = _jobs.Get(Job)!;
        Assert.Equal((JobState.Cancelled, "cancelled: wrong data"), (job.State, job.Reason));
        Assert.Equal(AttemptState.Cancelled, _jobs.Attempts(Job)[0].State);
        Assert.Throws<InvalidOperationException>(() => _jobs.RequestCancel(Job, "again"));
        Assert.Empty(_jobs.DueForOffer());
    }

    [Fact]
    public void Cancelling_a_running_job_stops_its_worker_until_it_reports_and_the_job_is_not_retried()
    {
        Create();
        Running("w1");
        _jobs.RequestCancel(Job, "wrong data");

        var first = _jobs.ApplyCancellations(TimeSpan.FromSeconds(30));
        var tooSoon = _jobs.ApplyCancellations(TimeSpan.FromSeconds(30));
        _clock.Advance(TimeSpan.FromSeconds(30));
        var again = _jobs.ApplyCancellations(TimeSpan.FromSeconds(30));
        // The worker kills the process and says how the attempt ended; even a plain failure ends a cancelled job.
        var end = _jobs.Fail(Failure(1, outcome: JobOutcomes.Failed));

        Assert.Equal("w1", Assert.Single(first).WorkerId);
        Assert.Empty(tooSoon);
        Assert.Single(again);
        Assert.Equal(JobState.Cancelled, end.JobState);
        Assert.Equal("cancelled: wrong data", _jobs.Get(Job)!.Reason);
        Assert.Null(_jobs.TryOffer(Job, OfferAgain));
    }

    [Fact]
    public void A_worker_reported_cancellation_ends_the_job_with_the_workers_reason()
    {
        Create();
        Running("w1");

        var end = _jobs.Fail(new JobFailed(Job, 1, "w1", JobOutcomes.Cancelled, "attempt 1 is no longer the one the orchestrator runs", null, 2));

        Assert.Equal(JobState.Cancelled, end.JobState);
        Assert.Equal((AttemptState.Cancelled, "attempt 1 is no longer the one the orchestrator runs"), (_jobs.Attempts(Job)[0].State, _jobs.Get(Job)!.Reason));
    }

    [Fact]
    public void A_restarted_orchestrator_counts_its_downtime_as_nobodys_silence_and_offers_again_at_once()
    {
        Create();
        Running("w1");
        var offered = "demo-run-1-eval";
        _jobs.Create(new NewJob(offered, Spec() with { Kind = JobKinds.Eval }, 3, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)));
        _jobs.TryOffer(offered, OfferAgain);
        _clock.Advance(TimeSpan.FromMinutes(2));

        // A fresh store on the same file, as a restarted orchestrator opens it.
        var restarted = new JobStore(_database.Location, _clock);
        Assert.Equal(2, restarted.WatchAgain());

        Assert.Empty(restarted.ExpireAttempts());
        Assert.Equal(Start.AddMinutes(2), restarted.Attempts(Job)[0].HeartbeatAt);
        Assert.Equal([offered], restarted.DueForOffer());
        Assert.Equal(1, restarted.TryOffer(offered, OfferAgain)!.Attempt);
    }
}

public sealed class JobStoreTestsOnSqlite() : JobStoreTests(null);

[Collection(PostgresCollection.Name)]
public sealed class JobStoreTestsOnPostgres(PostgresServer server) : JobStoreTests(server);
