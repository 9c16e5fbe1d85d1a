using System.Diagnostics;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Two <c>serve --role orchestrator</c> processes on one private PostgreSQL store, a worker process, a private RabbitMQ:
/// one orchestrator is active, the other waits; the active one is SIGKILLed mid-run and the standby finishes the run
/// (docs/adr/0037-postgresql-store-and-one-active-orchestrator.md). The store must end with every attempt and decision
/// once, the run finished once, and both takeovers recorded.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class OrchestratorFailoverTests(RabbitMqBroker broker) : IDisposable
{
    private readonly PostgresServer _postgres = new();

    [Fact]
    public async Task The_standby_finishes_the_run_once_after_the_active_orchestrator_is_SIGKILLed_mid_run()
    {
        await using var loop = new ServeJobProcesses(await broker.NewVirtualHostAsync("failover"), store: _postgres.Url(_postgres.NewDatabase("failover")));
        loop.Marker("hold");
        var active = await loop.StartOrchestratorAsync(name: "orchestrator-a");
        var standby = await loop.StartStandbyAsync("orchestrator-b");
        await loop.StartWorkerAsync("w1");
        await loop.CommitAsync(120);
        var tune = JobIds.Tune(await loop.RunStartedAsync());
        await loop.RunningAsync(tune);

        await active.KillAsync();
        var sinceKill = Stopwatch.StartNew();
        await standby.WaitReadyAsync(TimeSpan.FromSeconds(30));
        var takeover = sinceKill.Elapsed;
        loop.RemoveMarker("hold");
        var run = await loop.RunEndedAsync();

        Assert.True(run.Status == RunStatus.Completed, $"{run.Reason}; {loop.Describe()}; {loop.Logs()}");
        Assert.Single(loop.Registry.ListRuns(ServeJobProcesses.AppId));
        Assert.Equal(AttemptState.Succeeded, Assert.Single(loop.Jobs.Attempts(tune)).State);
        Assert.Equal(AttemptState.Succeeded, Assert.Single(loop.Jobs.Attempts(JobIds.Eval(run.RunId))).State);
        var model = Assert.Single(loop.Registry.ListModels(ServeJobProcesses.AppId));
        Assert.NotNull(loop.Registry.GetDecision(model.Model.Version));
        Assert.Equal(model.Model.Version, loop.Registry.CurrentModel(ServeJobProcesses.AppId)?.Version);
        Assert.Equal(["tune", "eval"], loop.Starts().Select(s => s.Mode));
        var handovers = OrchestratorLease.Handovers(loop.Registry.Database);
        Assert.Equal(2, handovers.Count);
        Assert.Equal((1L, $"{Environment.MachineName}-{active.Id}", (string?)null), (handovers[0].Generation, handovers[0].Holder, handovers[0].PreviousHolder));
        Assert.Equal((2L, $"{Environment.MachineName}-{standby.Id}", handovers[0].Holder), (handovers[1].Generation, handovers[1].Holder, handovers[1].PreviousHolder));
        // "Within seconds": the server drops the killed process's lock session at once; the rest is the standby's start.
        Assert.True(takeover < TimeSpan.FromSeconds(20), $"the standby was ready {takeover.TotalSeconds:0.0} s after the kill");
        Console.WriteLine($"failover: standby ready {takeover.TotalSeconds:0.0} s after SIGKILL of the active orchestrator");
    }

    public void Dispose() => _postgres.Dispose();
}
