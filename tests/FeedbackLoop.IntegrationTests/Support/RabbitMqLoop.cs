using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// The loop's durable side for one RabbitMQ test — a data folder with committed pairs, the SQLite registry —
/// and the orchestrator processes' wiring over a broker: each <see cref="StartOrchestratorAsync"/> is a fresh
/// bus on the same data, as a restarted orchestrator would be.
/// </summary>
internal sealed class RabbitMqLoop : IDisposable
{
    public const string AppId = "demo";

    private static readonly AppPipeline App = AppPipeline.Builtin with
    {
        Retrain = new RetrainSettings(60),
        Split = new SplitSettings(0.25),
        Gate = new GateSettings(0.02, RequireSignoff: false),
    };

    private static readonly PipelineDefinition Pipeline = new("rabbitmq-test", App, new Dictionary<string, AppPipeline> { [AppId] = App });

    private readonly TempFolder _folder = new("rmqloop");
    private readonly DatasetStore _store;
    private int _pairs;

    public RabbitMqLoop()
    {
        Registry = new ModelRegistry(Path.Combine(Root, "registry.db"));
        _store = new DatasetStore(Root);
    }

    public string Root => _folder.Path;

    public ModelRegistry Registry { get; }

    /// <summary>Starts the loop's orchestrator (trigger, tuning and evaluation consumers) over <paramref name="transport"/>.</summary>
    public async Task<RunningBus> StartOrchestratorAsync(LoopTransport transport, IRewardModelTrainer? trainer = null) =>
        await RunningBus.StartAsync(new ServiceCollection()
            .AddLogging()
            .AddFeedbackLoopOrchestration(Registry, Pipeline, new LoopPaths(Path.Combine(Root, "models")), new DatasetSnapshots(Root),
                trainer ?? new MlNetRewardTrainer(), new MlNetPairwiseEvaluator(), transport: transport), transport);

    /// <summary>Writes pairs where the concise answer with an example beats the rambling one, as the extractors would.</summary>
    public async Task CommitPairsAsync(int count)
    {
        var output = new ExtractionOutput();
        for (var i = 0; i < count; i++)
        {
            var n = ++_pairs;
            var topic = $"topic {n % 11}";
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"rc{n}", $"rr{n}"), AppId, [new ConversationTurn("user", $"What about {topic}?")],
                new ConversationTurn("assistant", $"For {topic}: start small. For example, one step."),
                new ConversationTurn("assistant", $"Well, {topic} depends on a great many things that may or may not matter to you."),
                "comparison", 1.0, $"rc{n}", $"rr{n}", "m1", "m1", $"rs{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }

        await _store.WriteAsync(output);
    }

    /// <summary>Waits until <paramref name="count"/> runs have ended (the registry is the source of truth).</summary>
    public async Task RunsEndedAsync(int count, TimeSpan timeout) =>
        Assert.True(await Eventually.TrueAsync(() => Registry.ListRuns(AppId).Count(r => r.Status != RunStatus.Running) >= count, timeout),
            $"{count} run(s) did not end within {timeout.TotalSeconds:0} s; runs: {string.Join(", ", Registry.ListRuns(AppId).Select(r => $"{r.RunId} {r.Status}"))}");

    public void Dispose() => _folder.Dispose();
}

/// <summary>A started bus and its container; disposing stops the bus first (disposing the container alone leaves it running).</summary>
internal sealed class RunningBus : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private RunningBus(ServiceProvider provider) => _provider = provider;

    public IBusControl Bus => _provider.GetRequiredService<IBusControl>();

    public static async Task<RunningBus> StartAsync(IServiceCollection services, LoopTransport transport)
    {
        var running = new RunningBus(services.BuildServiceProvider(true));
        try
        {
            await running.Bus.StartLoopBusAsync(transport);
            // No host here: the loop's roles (the orchestrator's supervisor) start by hand and stop with the bus.
            await running._provider.StartLoopRolesAsync();
            return running;
        }
        catch
        {
            await running._provider.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Bus.StopAsync();
        await _provider.DisposeAsync();
    }
}

/// <summary>
/// The real ML.NET trainer behind a gate the test opens: a run can be held mid-training while the test
/// restarts the broker. Counts how often training started.
/// </summary>
internal sealed class GatedTrainer : IRewardModelTrainer
{
    private readonly MlNetRewardTrainer _inner = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _starts;

    public int Starts => Volatile.Read(ref _starts);

    public Task Entered => _entered.Task;

    public void Open() => _open.TrySetResult();

    public async Task<TrainingMetrics> TrainAsync(IReadOnlyList<PreferencePair> train, IReadOnlyList<FeedbackLabel> labels, int seed, string version, string artifactDirectory, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _starts);
        _entered.TrySetResult();
        await _open.Task.WaitAsync(cancellationToken);
        return await _inner.TrainAsync(train, labels, seed, version, artifactDirectory, cancellationToken);
    }
}

/// <summary>Reads queues directly with the RabbitMQ client, as an operator's tool would.</summary>
internal static class RabbitMqQueues
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until <paramref name="queue"/> holds at least <paramref name="count"/> ready messages; false at the deadline.</summary>
    public static async Task<bool> HoldsAsync(RabbitMqSettings settings, string queue, uint count, TimeSpan timeout)
    {
        await using var connection = await RabbitMqBroker.ConnectionFactoryFor(settings).CreateConnectionAsync();
        return await Eventually.TrueAsync(async () =>
        {
            // A fresh channel each time: a passive declare of a queue that does not exist yet closes the channel.
            await using var channel = await connection.CreateChannelAsync();
            try
            {
                return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount >= count;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return false; // not declared yet
            }
        }, timeout, PollInterval);
    }

    /// <summary>Takes the next message off <paramref name="queue"/> (null when it is empty).</summary>
    public static async Task<BasicGetResult?> TakeAsync(RabbitMqSettings settings, string queue)
    {
        await using var connection = await RabbitMqBroker.ConnectionFactoryFor(settings).CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await channel.BasicGetAsync(queue, autoAck: true);
    }

    /// <summary>A header as text (AMQP carries strings as bytes).</summary>
    public static string? Header(BasicGetResult message, string name) =>
        message.BasicProperties.Headers?.TryGetValue(name, out var value) == true
            ? value switch { byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes), null => null, _ => value.ToString() }
            : null;
}
