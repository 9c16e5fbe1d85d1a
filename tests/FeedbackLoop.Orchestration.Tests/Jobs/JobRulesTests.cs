using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Jobs;

namespace FeedbackLoop.Orchestration.Tests.Jobs;

/// <summary>The job protocol's decisions as tables: claim arbitration, report judging, retry backoff, what follows an attempt, expiry.</summary>
public sealed class JobRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    // state,              current, runner, claimed, claimant, verdict,                  reason
    [InlineData(JobState.Offered, 1, null, 1, "w1", ClaimVerdict.Grant, "granted")]
    [InlineData(JobState.Running, 1, "w1", 1, "w1", ClaimVerdict.GrantAgain, "already granted to this worker")]
    [InlineData(JobState.Running, 1, "w1", 1, "w2", ClaimVerdict.Refuse, "worker w1 has this attempt")]
    [InlineData(JobState.Offered, 2, null, 1, "w1", ClaimVerdict.Refuse, "attempt 1 is not the current one (2)")]
    [InlineData(JobState.Running, 2, "w1", 3, "w1", ClaimVerdict.Refuse, "attempt 3 is not the current one (2)")]
    [InlineData(JobState.Pending, 1, null, 1, "w1", ClaimVerdict.Refuse, "the job is pending")]
    [InlineData(JobState.Succeeded, 1, "w1", 1, "w2", ClaimVerdict.Refuse, "the job is succeeded")]
    [InlineData(JobState.Cancelled, 1, null, 1, "w2", ClaimVerdict.Refuse, "the job is cancelled")]
    public void The_first_claim_of_the_current_offered_attempt_wins(
        JobState state, int current, string? runner, int claimed, string claimant, ClaimVerdict verdict, string reason)
    {
        Assert.Equal((verdict, reason), JobRules.ArbitrateClaim(state, current, runner, claimed, claimant));
    }

    [Theory]
    [InlineData(JobState.Running, 2, "w1", 2, "w1", ReportVerdict.Current)]
    [InlineData(JobState.Running, 2, "w1", 1, "w1", ReportVerdict.Stale)]
    [InlineData(JobState.Running, 2, "w1", 2, "w2", ReportVerdict.Stale)]
    [InlineData(JobState.Pending, 2, "w1", 2, "w1", ReportVerdict.Stale)]
    [InlineData(JobState.Succeeded, 2, "w1", 2, "w1", ReportVerdict.Stale)]
    public void Only_the_running_attempts_own_worker_reports_on_it(
        JobState state, int current, string runner, int attempt, string worker, ReportVerdict verdict)
    {
        Assert.Equal(verdict, JobRules.JudgeReport(state, current, runner, attempt, worker));
    }

    [Theory]
    // failed attempt, initial seconds, expected seconds
    [InlineData(1, 30, 30)]
    [InlineData(2, 30, 60)]
    [InlineData(3, 30, 120)]
    [InlineData(7, 30, 1920)]
    [InlineData(8, 30, 3600)]
    [InlineData(99, 30, 3600)]
    [InlineData(1, 7200, 7200)]
    [InlineData(3, 7200, 7200)]
    [InlineData(4, 0.1, 0.8)]
    public void Retry_backoff_doubles_from_the_pipelines_value_up_to_an_hour(int failedAttempt, double initialSeconds, double expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), JobRules.RetryDelay(failedAttempt, TimeSpan.FromSeconds(initialSeconds)));
    }

    [Theory]
    // ended,                  attempt, max, cancel requested, next state,        due after (s)
    [InlineData(AttemptState.Succeeded, 1, 3, false, JobState.Succeeded, null)]
    [InlineData(AttemptState.Succeeded, 3, 3, true, JobState.Succeeded, null)]
    [InlineData(AttemptState.Failed, 1, 3, false, JobState.Pending, 10.0)]
    [InlineData(AttemptState.Lost, 2, 3, false, JobState.Pending, 20.0)]
    [InlineData(AttemptState.TimedOut, 3, 3, false, JobState.Failed, null)]
    [InlineData(AttemptState.Failed, 1, 1, false, JobState.Failed, null)]
    [InlineData(AttemptState.Cancelled, 1, 3, false, JobState.Cancelled, null)]
    [InlineData(AttemptState.Failed, 1, 3, true, JobState.Cancelled, null)]
    [InlineData(AttemptState.Lost, 1, 3, true, JobState.Cancelled, null)]
    [InlineData(AttemptState.Interrupted, 1, 3, false, JobState.Pending, 0.0)]
    [InlineData(AttemptState.Interrupted, 3, 3, false, JobState.Pending, 0.0)]
    [InlineData(AttemptState.Interrupted, 0, 1, false, JobState.Pending, 0.0)]
    [InlineData(AttemptState.Interrupted, 1, 3, true, JobState.Cancelled, null)]
    public void After_an_attempt_the_job_succeeds_retries_after_its_backoff_fails_or_is_cancelled(
        AttemptState ended, int attempt, int max, bool cancelRequested, JobState next, double? dueAfterSeconds)
    {
        var (state, due) = JobRules.AfterAttempt(ended, attempt, max, cancelRequested, TimeSpan.FromSeconds(10), Now);

        Assert.Equal(next, state);
        Assert.Equal(dueAfterSeconds is { } s ? Now.AddSeconds(s) : null, due);
    }

    [Theory]
    [InlineData(AttemptState.Offered)]
    [InlineData(AttemptState.Running)]
    public void An_attempt_that_has_not_ended_has_no_successor(AttemptState state)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => JobRules.AfterAttempt(state, 1, 3, false, TimeSpan.FromSeconds(1), Now));
    }

    [Theory]
    // seconds since heard, timeout, silent
    [InlineData(0, 60, false)]
    [InlineData(60, 60, false)]
    [InlineData(60.001, 60, true)]
    [InlineData(3600, 60, true)]
    public void A_worker_is_silent_once_it_was_not_heard_for_longer_than_the_timeout(double secondsSinceHeard, double timeoutSeconds, bool silent)
    {
        Assert.Equal(silent, JobRules.IsSilent(Now.AddSeconds(-secondsSinceHeard), Now, TimeSpan.FromSeconds(timeoutSeconds)));
    }

    [Theory]
    // seconds since start, job limit, heartbeat timeout, overdue
    [InlineData(100, 100, 30, false)]
    [InlineData(130, 100, 30, false)]
    [InlineData(130.5, 100, 30, true)]
    public void An_attempt_is_overdue_a_heartbeat_timeout_after_its_time_limit(double secondsSinceStart, double limit, double heartbeat, bool overdue)
    {
        Assert.Equal(overdue, JobRules.IsOverdue(Now.AddSeconds(-secondsSinceStart), Now, TimeSpan.FromSeconds(limit), TimeSpan.FromSeconds(heartbeat)));
    }

    [Theory]
    [InlineData(JobOutcomes.Failed, AttemptState.Failed)]
    [InlineData(JobOutcomes.TimedOut, AttemptState.TimedOut)]
    [InlineData(JobOutcomes.Cancelled, AttemptState.Cancelled)]
    [InlineData(JobOutcomes.Interrupted, AttemptState.Interrupted)]
    public void A_workers_outcome_maps_to_an_attempt_state(string outcome, AttemptState state)
    {
        Assert.Equal(state, JobRules.AttemptStateOf(outcome));
    }

    [Fact]
    public void An_unknown_outcome_is_refused()
    {
        Assert.Throws<ArgumentException>(() => JobRules.AttemptStateOf("exploded"));
    }

    [Fact]
    public void Every_state_reads_back_from_its_text()
    {
        Assert.All(Enum.GetValues<JobState>(), s => Assert.Equal(s, JobRules.ParseJobState(JobRules.Text(s))));
        Assert.All(Enum.GetValues<AttemptState>(), s => Assert.Equal(s, JobRules.ParseAttemptState(JobRules.Text(s))));
        Assert.Throws<InvalidDataException>(() => JobRules.ParseJobState("paused"));
    }
}
