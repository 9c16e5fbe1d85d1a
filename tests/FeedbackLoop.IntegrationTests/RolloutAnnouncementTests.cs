using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 14, item 6: <c>models approve|promote|rollback</c> are announced on the bus the loop uses. The CLI (a real
/// process) writes the store; the running orchestrator publishes from it: in memory here, over a private RabbitMQ node
/// in <see cref="RabbitMqRolloutAnnouncementTests"/>.
/// </summary>
public sealed class RolloutAnnouncementTests : IAsyncDisposable
{
    private readonly JobLoop _loop = new();

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task A_cli_promotion_and_rollback_reach_the_bus_in_order_and_each_once()
    {
        // Registered before the orchestrator starts: its sweep must not take the stand-in runs for runs to carry out.
        Served.Register(_loop.Registry, "demo-m1", promote: true);
        Served.Register(_loop.Registry, "demo-m2", promote: false);
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));

        var (promote, promoteOut) = await ServeJobProcesses.CliAsync("models", "promote", "demo-m2", "--by", "ana", "--store", _loop.Registry.DatabasePath);
        var (rollback, rollbackOut) = await ServeJobProcesses.CliAsync(
            "models", "rollback", "--by", "ana", "--reason", "refund answers got worse", "--store", _loop.Registry.DatabasePath);

        Assert.True(promote == 0, promoteOut);
        Assert.True(rollback == 0, rollbackOut);
        Assert.Contains("announces it on the bus at its next sweep", rollbackOut, StringComparison.Ordinal);
        Assert.True(await Eventually.TrueAsync(() => _loop.Harness.Published.Select<ModelRolledBack>().Any(), TimeSpan.FromSeconds(30)), "no ModelRolledBack");
        // Marked once published; the sweeps after that must not publish it again.
        Assert.True(await Eventually.TrueAsync(() => _loop.Registry.UnannouncedActions(10).Count == 0, TimeSpan.FromSeconds(10)), "actions left unannounced");
        var rolledBack = Assert.Single(_loop.Harness.Published.Select<ModelRolledBack>()).Context.Message;
        Assert.Equal(new ModelRolledBack("demo", "demo-m1", "demo-m2", "models/demo-m1", "ana", "refund answers got worse"), rolledBack);
        var promoted = Assert.Single(_loop.Harness.Published.Select<ModelPromoted>(), p => p.Context.Message.Version == "demo-m2").Context.Message;
        Assert.Equal(new ModelPromoted("demo", "demo-m2", "demo-m1", "models/demo-m2"), promoted);
    }
}

/// <summary>The same over RabbitMQ: a CLI rollback reaches an app's consumer subscribed on the broker.</summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqRolloutAnnouncementTests(RabbitMqBroker broker)
{
    [Fact]
    public async Task A_cli_rollback_reaches_a_subscribed_app_over_rabbitmq()
    {
        var transport = LoopTransport.RabbitMq(await broker.NewVirtualHostAsync("rollback"));
        using var loop = new RabbitMqLoop();
        Served.Register(loop.Registry, "demo-m1", promote: true);
        Served.Register(loop.Registry, "demo-m2", promote: true);
        var received = new TaskCompletionSource<ModelRolledBack>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = new ServiceCollection().AddLogging()
            .AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, cfg) =>
                cfg.ReceiveEndpoint("demo-app-models", e => e.Handler<ModelRolledBack>(context =>
                {
                    received.TrySetResult(context.Message);
                    return Task.CompletedTask;
                }))))
            .BuildServiceProvider(true);
        var appBus = app.GetRequiredService<IBusControl>();
        await appBus.StartLoopBusAsync(transport);
        try
        {
            await using var orchestrator = await loop.StartOrchestratorAsync(transport);

            var (exit, output) = await ServeJobProcesses.CliAsync("models", "rollback", "--by", "ana", "--reason", "drop in thumbs-up", "--store", loop.Registry.DatabasePath);

            Assert.True(exit == 0, output);
            var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(new ModelRolledBack("demo", "demo-m1", "demo-m2", "models/demo-m1", "ana", "drop in thumbs-up"), message);
        }
        finally
        {
            await appBus.StopAsync();
        }
    }
}

/// <summary>Models registered straight into a store, as if earlier runs had trained them.</summary>
internal static class Served
{
    public static void Register(ModelRegistry registry, string version, bool promote)
    {
        var run = $"{version}-run";
        registry.TryStartRun(run, "demo", new Contracts.Datasets.DatasetSnapshot("demo", []));
        registry.RegisterCandidate(new ModelVersionRecord(version, "demo", null, run, "[]", $"models/{version}", "{}", ModelStatus.Candidate, DateTimeOffset.UtcNow));
        if (promote)
        {
            registry.Promote(version);
        }

        registry.CompleteRun(run, RunStatus.Completed, "registered by the test");
    }
}
