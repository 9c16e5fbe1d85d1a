using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Worker pools, draining and signed offers across real processes on a real RabbitMQ node (docs/WORKERS.md): a worker
/// receives only its pool's jobs, SIGTERM lets its running attempt finish (or hands it back, interrupted, when the drain
/// runs out), and an offer that is not signed with the loop's key runs nothing.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class WorkerPoolTests(RabbitMqBroker broker)
{
    [Fact]
    public async Task A_cpu_worker_never_receives_a_gpu_job_which_waits_counted_as_unclaimed_until_a_gpu_worker_takes_it()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("pools"), pool: "gpu");
        var orchestrator = await loop.StartOrchestratorAsync(offerAgain: "1s");
        var cpu = await loop.StartWorkerAsync("cpu1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());

        // Nobody of pool gpu listens: the offer is sent again and the orchestrator says so, and the job waits, offered.
        Assert.True(await Eventually.TrueAsync(() => orchestrator.Output.Contains($"of job {tune} was not claimed within", StringComparison.Ordinal)
            && orchestrator.Output.Contains("is a worker of pool gpu running", StringComparison.Ordinal), TimeSpan.FromSeconds(60)),
            $"no unclaimed-offer warning; {loop.Logs()}");
        Assert.Equal(JobState.Offered, loop.Jobs.Get(tune)!.State);
        Assert.Null(Assert.Single(loop.Jobs.Attempts(tune)).WorkerId);

        await loop.StartWorkerAsync("gpu1", pool: "gpu");
        var run = await loop.RunEndedAsync();

        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        foreach (var job in new[] { tune, JobIds.Eval(run.RunId) })
        {
            Assert.Equal("gpu1", Assert.Single(loop.Jobs.Attempts(job)).WorkerId);
        }

        // The CPU worker never saw either job: it claimed nothing and has no attempt log.
        Assert.DoesNotContain("Claiming attempt", cpu.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(loop.WorkDirectoryOf("cpu1"), "logs")) && Directory.EnumerateFileSystemEntries(Path.Combine(loop.WorkDirectoryOf("cpu1"), "logs")).Any(),
            "the cpu worker has attempt logs");
    }

    [Fact]
    public async Task A_worker_sent_SIGTERM_mid_attempt_finishes_it_records_it_once_takes_no_new_offer_and_exits_0()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("drain"));
        loop.Marker("hold");
        await loop.StartOrchestratorAsync();
        var w1 = await loop.StartWorkerAsync("w1", drainTimeout: "2m");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        await loop.RunningAsync(tune);

        w1.Terminate();
        Assert.True(await Eventually.TrueAsync(() => w1.Output.Contains("Draining: no new offers", StringComparison.Ordinal), TimeSpan.FromSeconds(30)),
            $"the worker did not start draining; {w1.Output}");
        Assert.False(w1.HasExited);
        loop.RemoveMarker("hold");

        Assert.Equal(0, await w1.ExitCodeAsync(TimeSpan.FromSeconds(60)));
        // The worker published the attempt's end before it exited; the orchestrator records it when it consumes that.
        Assert.True(await Eventually.TrueAsync(() => loop.Jobs.Attempts(tune).Any(a => a.State != AttemptState.Running), TimeSpan.FromSeconds(30)),
            $"the attempt's end was never recorded; {loop.Describe()}");
        var attempt = Assert.Single(loop.Jobs.Attempts(tune));
        Assert.Equal((AttemptState.Succeeded, "w1"), (attempt.State, attempt.WorkerId));
        // The eval job came after the drain began: another worker runs it.
        await loop.StartWorkerAsync("w2");
        var run = await loop.RunEndedAsync();
        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        Assert.Equal("w2", Assert.Single(loop.Jobs.Attempts(JobIds.Eval(run.RunId))).WorkerId);
        Assert.Single(loop.Starts(), s => s.Mode == "tune");
        Assert.Single(w1.Output.Split('\n'), l => l.Contains("Claiming attempt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_attempt_still_running_when_the_drain_runs_out_is_stopped_recorded_interrupted_and_run_again_elsewhere()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("drain-out"));
        loop.Marker("hold");
        await loop.StartOrchestratorAsync();
        var w1 = await loop.StartWorkerAsync("w1", drainTimeout: "1s");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        await loop.RunningAsync(tune);
        var (_, trainer) = loop.Starts()[0];

        Assert.Equal(0, await w1.StopAsync());

        Assert.False(OsProcess.IsAlive(trainer), $"trainer {trainer} outlived the drain");
        Assert.True(await Eventually.TrueAsync(() => loop.Jobs.Attempts(tune) is [{ State: AttemptState.Interrupted }, ..], TimeSpan.FromSeconds(30)),
            $"the attempt was not recorded interrupted; {loop.Describe()}");
        // Offered again at once, without a backoff.
        Assert.True(await Eventually.TrueAsync(() => loop.Jobs.Get(tune) is { State: JobState.Offered, Attempt: 2 }, TimeSpan.FromSeconds(10)), loop.Describe());
        loop.RemoveMarker("hold");
        await loop.StartWorkerAsync("w2");
        var run = await loop.RunEndedAsync();

        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}");
        var attempts = loop.Jobs.Attempts(tune);
        Assert.Equal([(AttemptState.Interrupted, "w1"), (AttemptState.Succeeded, "w2")], attempts.Select(a => (a.State, a.WorkerId)));
        Assert.StartsWith("worker w1 shut down: its drain of 1 s ran out", attempts[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Offers_published_straight_to_the_broker_that_are_unsigned_forged_altered_or_hostile_are_refused_and_run_nothing()
    {
        // The job is real and offered (to the gpu pool, where nobody listens): a claim of it would be granted, so only the
        // worker's own checks stand between a forged offer and the forged command.
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("trust"), pool: "gpu");
        await loop.StartOrchestratorAsync();
        var worker = await loop.StartWorkerAsync("w1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        Assert.True(await Eventually.TrueAsync(() => loop.Jobs.Get(tune)?.State == JobState.Offered, TimeSpan.FromSeconds(30)), loop.Describe());
        var forged = Path.Combine(loop.Markers, "forged-ran");
        var probe = Path.Combine(loop.Markers, "probe-ran");
        var genuine = loop.Jobs.Get(tune)!.Spec with { Pool = JobPools.Default };
        var evil = new JobOffered(tune, 1, genuine with { Command = ["/bin/sh", "-c", $"touch '{forged}'"] });
        var key = new JobSigner(JobKey.FromText(RabbitMqBroker.JobKeyText));
        var otherKey = new JobSigner(JobKey.FromText("an-attackers-own-key-0123456789abcdef"));
        JobOffered[] hostile =
        [
            evil,
            otherKey.Sign(evil),
            key.Sign(new JobOffered(tune, 1, genuine)) with { Spec = evil.Spec },
            key.Sign(evil with { Spec = evil.Spec with { AppId = "x --evil" } }),
            key.Sign(evil with { Spec = evil.Spec with { CandidateVersion = "../../etc", OutputRoot = "/tmp/../../etc" } }),
        ];

        var transport = LoopTransport.RabbitMq(loop.Broker);
        var services = new ServiceCollection().AddLogging().AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, _) => { }));
        await using (var publisher = await RunningBus.StartAsync(services, transport))
        {
            var queue = await publisher.Bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.JobsOf(JobPools.Default)));
            foreach (var offer in hostile)
            {
                await queue.Send(offer);
            }

            // The control: the same job, signed with the loop's key, does run (offers are taken in order, so the hostile
            // ones were handled before it).
            await queue.Send(key.Sign(new JobOffered(tune, 1, genuine with { Command = ["/bin/sh", "-c", $"touch '{probe}'"] })));
        }

        Assert.True(await Eventually.TrueAsync(() => File.Exists(probe), TimeSpan.FromSeconds(60)), $"the signed offer did not run; {loop.Logs()}");
        Assert.False(File.Exists(forged), "a hostile offer ran its command");
        var refusals = worker.Output.Split('\n').Where(l => l.Contains($"Refused an offer of job {tune} attempt 1, nothing runs", StringComparison.Ordinal)).ToList();
        Assert.True(refusals.Count == hostile.Length, string.Join("\n", refusals) + "\n" + worker.Output);
        Assert.Contains(refusals, l => l.Contains("carries no signature", StringComparison.Ordinal));
        Assert.Equal(2, refusals.Count(l => l.Contains("signature does not match", StringComparison.Ordinal)));
        Assert.Contains(refusals, l => l.Contains("the app id is not a valid app id", StringComparison.Ordinal));
        Assert.Contains(refusals, l => l.Contains("the candidate version is not a safe name", StringComparison.Ordinal));
        Assert.DoesNotContain("--evil", worker.Output, StringComparison.Ordinal);
    }
}
