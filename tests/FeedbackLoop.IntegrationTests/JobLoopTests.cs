using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Pipelines;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The job protocol end to end in one process over the in-memory bus: the orchestrator, real workers, and the stand-in
/// trainer as a real child process. (The same protocol across processes and a real broker: the RabbitMQ job tests.)
/// </summary>
public sealed class JobLoopTests : IAsyncDisposable
{
    private readonly JobLoop _loop = new();

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    private static string Tune(RunRecord run) => JobIds.Tune(run.RunId);

    private int Heartbeats(string jobId) => _loop.Harness.PublishedSoFar<JobHeartbeat>().Count(b => b.JobId == jobId);


    [Fact]
    public async Task A_run_trains_and_evaluates_through_worker_jobs_then_waits_for_sign_off_until_approved()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, requireSignoff: true));

        await _loop.CommitAsync(120);

        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.StartsWith("passed the gate; awaiting sign-off: candidate 0.800 on 400 eval pairs", run.Reason, StringComparison.Ordinal);
        var candidate = Assert.Single(_loop.Registry.ListModels(JobLoop.AppId));
        Assert.True(candidate.AwaitingSignoff);
        Assert.Null(_loop.Registry.CurrentModel(JobLoop.AppId));
        Assert.Contains("\"snapshot_files\"", candidate.Model.TrainMetricsJson, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine("models", candidate.Model.Version, "tune-1"), candidate.Model.ArtifactPath, StringComparison.Ordinal);
        await _loop.Harness.PublishedAsync<CandidateAwaitingSignoff>(m => m.Version == candidate.Model.Version);
        // The gate publishes either the promotion or the wait for sign-off, in the step that ended the run.
        Assert.Empty(_loop.Harness.PublishedSoFar<ModelPromoted>());
        foreach (var job in new[] { JobIds.Tune(run.RunId), JobIds.Eval(run.RunId) })
        {
            Assert.Equal(JobState.Succeeded, _loop.Jobs.Get(job)!.State);
            var attempt = Assert.Single(_loop.Jobs.Attempts(job));
            Assert.Equal((AttemptState.Succeeded, "w1"), (attempt.State, attempt.WorkerId));
            Assert.True(File.Exists(attempt.LogPath), $"no log at {attempt.LogPath}");
        }

        _loop.Registry.Approve(candidate.Model.Version, "reviewer");

        Assert.Equal(candidate.Model.Version, _loop.Registry.CurrentModel(JobLoop.AppId)!.Version);
    }

    [Fact]
    public async Task A_later_candidate_is_gated_against_the_incumbent_scored_by_the_same_eval_command()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        _loop.Marker("accuracy", "0.8");
        await _loop.CommitAsync(120);
        var first = await _loop.RunEndedAsync();

        _loop.Marker("accuracy", "0.6");
        await _loop.CommitAsync(120);
        var second = await _loop.RunEndedAsync(2);

        var firstModel = _loop.Registry.GetModel(_loop.Registry.ListModels(JobLoop.AppId)[0].Model.Version)!;
        Assert.Equal(firstModel.Version, _loop.Registry.CurrentModel(JobLoop.AppId)!.Version);
        Assert.Equal(RunStatus.Completed, second.Status);
        Assert.StartsWith("candidate 0.600 vs incumbent 0.800: -0.200 < margin 0.02", second.Reason, StringComparison.Ordinal);
        Assert.Contains("(unpaired: per-pair outcomes not reported)", second.Reason, StringComparison.Ordinal);
        var evaluation = await _loop.Harness.PublishedAsync<EvaluationCompleted>(m => m.RunId == second.RunId);
        Assert.Single(_loop.Harness.PublishedSoFar<EvaluationCompleted>(), m => m.RunId == second.RunId);
        Assert.Equal((firstModel.Version, 400, false), (evaluation.IncumbentVersion, evaluation.EvalPairs, evaluation.Promote));
        Assert.Equal(["tune", "eval", "tune", "eval", "eval"], _loop.Starts().Select(s => s.Mode));
        Assert.Equal(RunStatus.Completed, first.Status);
    }

    [Fact]
    public async Task A_failed_extra_check_rejects_the_candidate()
    {
        var checks = new[]
        {
            CommandTemplate.FromArguments(["/bin/sh", "-c", "test -d \"$1\"", "sh", "{model}"]),
            CommandTemplate.FromArguments(["/bin/sh", "-c", "echo too toxic; exit 4"]),
        };
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, checks: checks));

        await _loop.CommitAsync(120);

        var run = await _loop.RunEndedAsync();
        Assert.StartsWith("1 of 2 extra check(s) failed: /bin/sh -c 'echo too toxic; exit 4' exited 4", run.Reason, StringComparison.Ordinal);
        Assert.Equal(ModelStatus.Rejected, Assert.Single(_loop.Registry.ListModels(JobLoop.AppId)).Model.Status);
        Assert.Null(_loop.Registry.CurrentModel(JobLoop.AppId));
    }

    [Fact]
    public async Task A_failing_trainer_is_retried_with_a_doubling_backoff_until_the_limit_and_the_run_fails_with_the_reason()
    {
        _loop.Marker("fail-always");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, maxAttempts: 3));

        await _loop.CommitAsync(120);

        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("tuning failed: attempt 3 of 3 failed: the trainer exited 3; last line: simulated crash", run.Reason);
        var attempts = _loop.Jobs.Attempts(Tune(run));
        Assert.Equal([AttemptState.Failed, AttemptState.Failed, AttemptState.Failed], attempts.Select(a => a.State));
        Assert.All(attempts, a => Assert.Equal(3, a.ExitCode));
        // Each retry waited at least its backoff after the failure before it: 200 ms, then 400 ms.
        Assert.True(attempts[1].OfferedAt - attempts[0].EndedAt!.Value >= TimeSpan.FromMilliseconds(200));
        Assert.True(attempts[2].OfferedAt - attempts[1].EndedAt!.Value >= TimeSpan.FromMilliseconds(400));
        Assert.Equal(3, _loop.Starts().Count);
        await _loop.Harness.PublishedAsync<TuningFailed>(m => m.RunId == run.RunId);
        Assert.Empty(_loop.Registry.ListModels(JobLoop.AppId));
    }

    [Fact]
    public async Task A_trainer_that_crashes_once_succeeds_on_its_second_attempt()
    {
        _loop.Marker("fail-next");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));

        await _loop.CommitAsync(120);

        var run = await _loop.RunEndedAsync();
        Assert.True(run.Status == RunStatus.Completed, $"{run.Status}: {run.Reason}; {_loop.Describe()}");
        Assert.Equal([AttemptState.Failed, AttemptState.Succeeded], _loop.Jobs.Attempts(Tune(run)).Select(a => a.State));
        Assert.EndsWith("tune-2", _loop.Registry.CurrentModel(JobLoop.AppId)!.ArtifactPath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trainer_past_its_time_limit_is_killed_and_its_attempt_recorded_as_timed_out()
    {
        _loop.Marker("hold");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, maxAttempts: 1, trainerTimeout: TimeSpan.FromSeconds(1)));

        await _loop.CommitAsync(120);

        var run = await _loop.RunEndedAsync();
        Assert.Equal("tuning failed: attempt 1 of 1 timed_out: stopped at its time limit of 1 s", run.Reason);
        var attempt = Assert.Single(_loop.Jobs.Attempts(Tune(run)));
        Assert.Equal((AttemptState.TimedOut, (int?)null), (attempt.State, attempt.ExitCode));
        Assert.StartsWith("step ", attempt.Progress, StringComparison.Ordinal);
        var (_, pid) = Assert.Single(_loop.Starts());
        Assert.True(await Eventually.TrueAsync(() => !OsProcess.IsAlive(pid), TimeSpan.FromSeconds(10)), $"trainer {pid} still runs");
    }

    [Fact]
    public async Task Cancelling_a_running_job_kills_its_process_and_ends_the_run_without_a_retry()
    {
        _loop.Marker("hold");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        await _loop.CommitAsync(120);
        var runId = await _loop.RunStartedAsync();
        await _loop.RunningAsync(JobIds.Tune(runId));

        _loop.Jobs.RequestCancel(JobIds.Tune(runId), "wrong snapshot");

        var run = await _loop.RunEndedAsync();
        Assert.Equal("tuning cancelled: cancelled: wrong snapshot", run.Reason);
        var job = _loop.Jobs.Get(JobIds.Tune(runId))!;
        Assert.Equal((JobState.Cancelled, 1), (job.State, job.Attempt));
        Assert.Equal(AttemptState.Cancelled, Assert.Single(_loop.Jobs.Attempts(job.JobId)).State);
        var (_, pid) = Assert.Single(_loop.Starts());
        Assert.True(await Eventually.TrueAsync(() => !OsProcess.IsAlive(pid), TimeSpan.FromSeconds(10)), $"trainer {pid} still runs");
        await _loop.Harness.PublishedAsync<StopJob>(m => m.JobId == job.JobId && m.WorkerId == "w1");
    }

    [Fact]
    public async Task A_worker_that_falls_silent_loses_its_attempt_and_another_worker_completes_the_job_once()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers), LoopRoles.Orchestrator);
        // A worker that claims the first offer and then dies: it never beats, never reports.
        var ghost = _loop.Harness.Bus.ConnectReceiveEndpoint(LoopQueues.JobsOf(JobPools.Default), e => e.Handler<JobOffered>(context =>
            context.Publish(new JobClaimed(context.Message.JobId, context.Message.Attempt, "ghost", 0, "/nowhere/attempt.log"))));
        await ghost.Ready;
        await _loop.CommitAsync(120);
        var runId = await _loop.RunStartedAsync();
        Assert.True(await Eventually.TrueAsync(() => _loop.Jobs.Attempts(JobIds.Tune(runId)) is [{ State: AttemptState.Running, WorkerId: "ghost" }], TimeSpan.FromSeconds(30)));
        await ghost.StopAsync();

        await using var worker = await _loop.StartWorkerAsync("w2");
        var run = await _loop.RunEndedAsync();

        Assert.Equal(RunStatus.Completed, run.Status);
        var attempts = _loop.Jobs.Attempts(JobIds.Tune(runId));
        Assert.Equal([(AttemptState.Lost, "ghost"), (AttemptState.Succeeded, "w2")], attempts.Select(a => (a.State, a.WorkerId)));
        Assert.StartsWith("no heartbeat from worker ghost for ", attempts[0].Reason, StringComparison.Ordinal);
        Assert.Single(_loop.Starts(), s => s.Mode == "tune");
        Assert.Single(_loop.Registry.ListModels(JobLoop.AppId));
        await _loop.Harness.PublishedAsync<StopJob>(m => m.WorkerId == "ghost");
    }

    [Fact]
    public async Task A_rival_claim_of_a_running_attempt_is_refused_and_the_job_runs_once()
    {
        _loop.Marker("hold");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        await _loop.CommitAsync(120);
        var runId = await _loop.RunStartedAsync();
        await _loop.RunningAsync(JobIds.Tune(runId));

        // Another worker that got a copy of the offer (re-sent, or redelivered) claims it too.
        await _loop.Harness.Bus.Publish(new JobClaimed(JobIds.Tune(runId), 1, "rival", 0, "/rival/attempt.log"));

        await _loop.Harness.PublishedAsync<JobClaimRefused>(m => m is { WorkerId: "rival", Reason: "worker w1 has this attempt" });
        _loop.RemoveMarker("hold");
        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Single(_loop.Starts(), s => s.Mode == "tune");
        Assert.Equal("w1", Assert.Single(_loop.Jobs.Attempts(JobIds.Tune(runId))).WorkerId);
    }

    [Fact]
    public async Task A_worker_with_a_free_slot_ignores_a_copy_of_an_offer_it_already_runs()
    {
        _loop.Marker("hold");
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers), slots: 2);
        await _loop.CommitAsync(120);
        var runId = await _loop.RunStartedAsync();
        await _loop.RunningAsync(JobIds.Tune(runId));
        var offer = new JobOffered(JobIds.Tune(runId), 1, _loop.Jobs.Get(JobIds.Tune(runId))!.Spec);

        var queue = await _loop.Harness.Bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.JobsOf(JobPools.Default)));
        await queue.Send(_loop.Sign(offer));
        // One offer at a time, in order: once the probe behind the copy is claimed, the copy has been handled.
        await queue.Send(_loop.Sign(offer with { JobId = "probe" }));

        await _loop.Harness.PublishedAsync<JobClaimed>(m => m.JobId == "probe");
        _loop.RemoveMarker("hold");
        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Single(_loop.Harness.PublishedSoFar<JobClaimed>(), m => m.JobId == JobIds.Tune(runId));
        Assert.Single(_loop.Starts(), s => s.Mode == "tune");
    }

    [Fact]
    public async Task A_claim_nobody_answers_is_sent_again_then_given_up_and_its_slot_freed()
    {
        // A worker alone: no orchestrator answers (as when a grant is lost in a broker restart).
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers), LoopRoles.Worker, claimTimeout: TimeSpan.FromSeconds(1.2));
        var claims = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listener = _loop.Harness.Bus.ConnectReceiveEndpoint("claims-" + Guid.NewGuid().ToString("N"),
            e => e.Handler<JobClaimed>(context =>
            {
                claims.Enqueue(context.Message.JobId);
                return Task.CompletedTask;
            }));
        await listener.Ready;
        var queue = await _loop.Harness.Bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.JobsOf(JobPools.Default)));
        var spec = new JobSpec(JobKinds.Tune, JobRunners.Command, "r", JobLoop.AppId, "v", [], 0.25, 1, Path.Combine(_loop.Root, "v"), ["true"], [],
            new Dictionary<string, string>(), null, null, null, 60);

        await queue.Send(_loop.Sign(new JobOffered("unanswered", 1, spec)));

        Assert.True(await Eventually.TrueAsync(() => claims.Count(id => id == "unanswered") >= 2, TimeSpan.FromSeconds(30)), "the claim was not sent again");
        // Once given up, the only slot takes the next offer.
        await queue.Send(_loop.Sign(new JobOffered("next", 1, spec)));
        Assert.True(await Eventually.TrueAsync(() => claims.Contains("next"), TimeSpan.FromSeconds(30)), "the slot was not freed");
    }

    [Fact]
    public async Task A_busy_worker_leaves_the_next_offer_queued_until_its_slot_is_free()
    {
        _loop.Marker("hold");
        // The held attempt must outlive every stall of a loaded CI machine: a 3 s heartbeat timeout once expired it there
        // (attempt 2 offered), which is not what this test is about.
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, heartbeatTimeout: TimeSpan.FromSeconds(30)), otherApps: ["other"]);
        await _loop.CommitAsync(120);
        await _loop.CommitAsync(120, "other");
        Assert.True(await Eventually.TrueAsync(() => _loop.Jobs.List(state: JobState.Running).Count == 1 && _loop.Jobs.List(state: JobState.Offered).Count == 1,
            TimeSpan.FromSeconds(30)), _loop.Describe());
        var running = Assert.Single(_loop.Jobs.List(state: JobState.Running)).JobId;
        var waiting = Assert.Single(_loop.Jobs.List(state: JobState.Offered)).JobId;
        await Eventually.HoldsAsync(() => _loop.Harness.SentSoFar<JobOffered>().Any(o => o.JobId == waiting), TimeSpan.FromSeconds(30), "the waiting job's offer sent");

        // The worker beats for its running job several times after the waiting offer reached the queue; the offer is
        // still unclaimed and the running job still runs on its first attempt.
        var beatsBefore = Heartbeats(running);
        await Eventually.HoldsAsync(() => Heartbeats(running) >= beatsBefore + 3, TimeSpan.FromSeconds(30), "three more heartbeats of the running job");
        Assert.DoesNotContain(_loop.Harness.PublishedSoFar<JobClaimed>(), c => c.JobId == waiting);
        Assert.Equal((JobState.Offered, 1), (_loop.Jobs.Get(waiting)!.State, _loop.Jobs.Get(waiting)!.Attempt));
        Assert.Equal((JobState.Running, 1), (_loop.Jobs.Get(running)!.State, _loop.Jobs.Get(running)!.Attempt));
        _loop.RemoveMarker("hold");

        await _loop.RunEndedAsync();
        await _loop.RunEndedAsync(appId: "other");
        // The worker reports an attempt's end before it frees the slot and takes the next offer, so its claim of the
        // waiting job comes after the running job's report in the order the bus saw them: it was not claimed earlier.
        var published = _loop.Harness.AllPublishedSoFar().ToList();
        var runningEnded = published.FindIndex(m => m is JobSucceeded s && s.JobId == running);
        var waitingClaimed = published.FindIndex(m => m is JobClaimed c && c.JobId == waiting);
        Assert.True(runningEnded >= 0 && waitingClaimed > runningEnded, $"{running} reported at #{runningEnded}, {waiting} claimed at #{waitingClaimed}");
        Assert.All(_loop.Jobs.List(), j => Assert.Equal(1, j.Attempt));
        Assert.Equal(2, _loop.Starts().Count(s => s.Mode == "tune"));
    }

    [Fact]
    public async Task Unsigned_and_other_pool_offers_are_refused_counted_by_reason_and_never_claimed()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers), LoopRoles.Worker);
        var telemetry = _loop.Services.GetRequiredService<OrchestrationTelemetry>();
        var refused = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == telemetry.OrchestratorMeter && instrument.Name == "feedbackloop.job.refused_offers")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback((Instrument _, long _, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason") refused.Enqueue((string)tag.Value!);
            }
        });
        listener.Start();
        var marker = Path.Combine(_loop.Markers, "ran");
        var spec = new JobSpec(JobKinds.Tune, JobRunners.Command, "r", JobLoop.AppId, "v", [], 0.25, 1, Path.Combine(_loop.Root, "v"),
            ["/bin/sh", "-c", $"touch '{marker}'"], [], new Dictionary<string, string>(), null, null, null, 60);
        var queue = await _loop.Harness.Bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.JobsOf(JobPools.Default)));

        await queue.Send(new JobOffered("unsigned", 1, spec));
        await queue.Send(_loop.Sign(new JobOffered("other-pool", 1, spec with { Pool = "gpu" })));
        await queue.Send(_loop.Sign(new JobOffered("probe", 1, spec)));

        // Offers are taken one at a time, in order: once the probe is claimed, the two before it were handled.
        await _loop.Harness.PublishedAsync<JobClaimed>(m => m.JobId == "probe");
        Assert.Equal(["unsigned", "wrong_pool"], refused);
        Assert.DoesNotContain(_loop.Harness.PublishedSoFar<JobClaimed>(), m => m.JobId is "unsigned" or "other-pool");
        Assert.False(File.Exists(marker));
    }
}
