using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Durable jobs across real processes on a real RabbitMQ node: <c>feedbackloop serve</c> as orchestrator and as workers,
/// the stand-in trainer as their child process, and SIGKILL where machines die. Each case ends with what the store
/// says: the run completed once, and how many attempts each job took and how each ended.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqJobTests(RabbitMqBroker broker)
{
    [Fact]
    public async Task A_run_completes_end_to_end_with_an_orchestrator_and_two_worker_processes()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("jobs-e2e"));
        // This orchestrator finds the new pairs by itself: nobody announces them.
        await loop.StartOrchestratorAsync(pollDatasets: "300ms");
        await loop.StartWorkerAsync("w1");
        await loop.StartWorkerAsync("w2");

        await loop.CommitAsync(120, announce: false);

        var run = await loop.RunEndedAsync();
        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        var model = Assert.Single(loop.Registry.ListModels(ServeJobProcesses.AppId));
        Assert.Equal(model.Model.Version, loop.Registry.CurrentModel(ServeJobProcesses.AppId)?.Version);
        foreach (var job in new[] { JobIds.Tune(run.RunId), JobIds.Eval(run.RunId) })
        {
            var attempt = Assert.Single(loop.Jobs.Attempts(job));
            Assert.Equal(AttemptState.Succeeded, attempt.State);
            Assert.Contains(attempt.WorkerId, new[] { "w1", "w2" });
        }

        Assert.Equal(["tune", "eval"], loop.Starts().Select(s => s.Mode));
        // The CLI reads the same store: the job's log, written by whichever worker ran it.
        var (exit, log) = await ServeJobProcesses.CliAsync("jobs", "logs", JobIds.Tune(run.RunId), "--registry", loop.Registry.DatabasePath);
        Assert.True(exit == 0, log);
        Assert.Contains("fake tune done", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_killed_mid_job_loses_its_attempt_and_the_other_worker_completes_the_job_once()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("jobs-kill-worker"));
        loop.Marker("hold");
        await loop.StartOrchestratorAsync();
        await loop.StartWorkerAsync("w1");
        await loop.StartWorkerAsync("w2");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        var first = await loop.RunningAsync(tune);
        var (_, firstTrainer) = loop.Starts()[0];

        await loop.ProcessNamed(first.WorkerId!).KillAsync();

        // The kernel takes the killed worker's trainer with it (no orphan holds the GPU), and the other worker takes over.
        Assert.True(await Eventually.TrueAsync(() => !OsProcess.IsAlive(firstTrainer), TimeSpan.FromSeconds(10)), $"trainer {firstTrainer} outlived its worker");
        var second = await loop.RunningAsync(tune, attempt: 2);
        loop.RemoveMarker("hold");
        var run = await loop.RunEndedAsync();

        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        var attempts = loop.Jobs.Attempts(tune);
        Assert.Equal(2, attempts.Count);
        Assert.Equal((AttemptState.Lost, first.WorkerId), (attempts[0].State, attempts[0].WorkerId));
        Assert.StartsWith($"no heartbeat from worker {first.WorkerId} for ", attempts[0].Reason, StringComparison.Ordinal);
        Assert.Equal(AttemptState.Succeeded, attempts[1].State);
        Assert.NotEqual(first.WorkerId, second.WorkerId);
        Assert.Single(loop.Registry.ListModels(ServeJobProcesses.AppId));
        Assert.Equal(2, loop.Starts().Count(s => s.Mode == "tune"));
    }

    [Fact]
    public async Task An_orchestrator_killed_mid_job_and_restarted_completes_the_run_once()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("jobs-kill-orchestrator"));
        loop.Marker("hold");
        var orchestrator = await loop.StartOrchestratorAsync();
        await loop.StartWorkerAsync("w1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        await loop.RunningAsync(tune);

        await orchestrator.KillAsync();
        // The job finishes while no orchestrator runs: its heartbeats and its result wait in the broker's durable queue.
        loop.RemoveMarker("hold");
        var (_, trainer) = loop.Starts()[0];
        Assert.True(await Eventually.TrueAsync(() => !OsProcess.IsAlive(trainer), TimeSpan.FromSeconds(30)), "the trainer did not finish");
        Assert.Equal(JobState.Running, loop.Jobs.Get(tune)!.State);
        await loop.StartOrchestratorAsync();

        var run = await loop.RunEndedAsync();
        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        Assert.Equal(AttemptState.Succeeded, Assert.Single(loop.Jobs.Attempts(tune)).State);
        Assert.Equal(AttemptState.Succeeded, Assert.Single(loop.Jobs.Attempts(JobIds.Eval(run.RunId))).State);
        Assert.Single(loop.Registry.ListModels(ServeJobProcesses.AppId));
        Assert.Equal(["tune", "eval"], loop.Starts().Select(s => s.Mode));
    }

    [Fact]
    public async Task Jobs_cancel_from_the_cli_stops_the_workers_process_and_records_why()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("jobs-cancel"));
        loop.Marker("hold");
        await loop.StartOrchestratorAsync();
        await loop.StartWorkerAsync("w1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        await loop.RunningAsync(tune);
        var (_, trainer) = loop.Starts()[0];

        var (exit, output) = await ServeJobProcesses.CliAsync("jobs", "cancel", tune, "--reason", "bad snapshot", "--registry", loop.Registry.DatabasePath);

        Assert.True(exit == 0, output);
        var run = await loop.RunEndedAsync();
        Assert.Equal("tuning cancelled: cancelled: bad snapshot", run.Reason);
        Assert.Equal(AttemptState.Cancelled, Assert.Single(loop.Jobs.Attempts(tune)).State);
        Assert.True(await Eventually.TrueAsync(() => !OsProcess.IsAlive(trainer), TimeSpan.FromSeconds(10)), $"trainer {trainer} still runs");
        Assert.Single(loop.Starts());
    }

    [Fact]
    public async Task A_job_past_its_time_limit_is_stopped_by_its_worker_recorded_as_timed_out_and_retried()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("jobs-timeout"), trainerTimeout: TimeSpan.FromSeconds(1));
        loop.Marker("hold");
        await loop.StartOrchestratorAsync();
        await loop.StartWorkerAsync("w1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());

        var run = await loop.RunEndedAsync();

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("tuning failed: attempt 3 of 3 timed_out: stopped at its time limit of 1 s", run.Reason);
        var attempts = loop.Jobs.Attempts(tune);
        Assert.All(attempts, a => Assert.Equal((AttemptState.TimedOut, "stopped at its time limit of 1 s"), (a.State, a.Reason)));
        Assert.Equal(3, attempts.Count);
        Assert.All(loop.Starts(), s => Assert.False(OsProcess.IsAlive(s.Pid), $"trainer {s.Pid} still runs"));
    }
}
