using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Pipelines;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Workers;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Orchestration.Bus;

/// <summary>Queue names of the loop's commands and events (the same on every transport).</summary>
public static class LoopQueues
{
    /// <summary>Where DatasetCommitted is handled (the retrain trigger).</summary>
    public const string Triggers = "feedbackloop-triggers";

    /// <summary>Where job offers wait for a worker (workers compete here).</summary>
    public const string Jobs = "feedbackloop-jobs";

    /// <summary>Where the workers' claims, heartbeats and results go to the orchestrator.</summary>
    public const string JobReports = "feedbackloop-job-reports";
}

/// <summary>
/// Wires the loop onto MassTransit: the services its consumers need, the consumers, their endpoints, and
/// the transport under them. The pieces are separate so that tests and hosts can put them on MassTransit's
/// test harness, the in-memory transport (embedded) or RabbitMQ — the consumers do not change.
/// </summary>
public static class LoopBus
{
    /// <summary>
    /// Adds the loop services (orchestrator and embedded worker, see <see cref="AddLoopServices(IServiceCollection, ModelRegistry, PipelineDefinition, LoopPaths, ISnapshotSource, IRewardModelTrainer, IPairwiseEvaluator, TimeProvider?)"/>)
    /// and a MassTransit bus carrying the loop over <paramref name="transport"/> (in memory, the embedded mode, when
    /// null). Start the bus with <see cref="StartLoopBusAsync"/>.
    /// </summary>
    public static IServiceCollection AddFeedbackLoopOrchestration(
        this IServiceCollection services, ModelRegistry registry, PipelineDefinition pipeline, LoopPaths paths,
        ISnapshotSource snapshots, IRewardModelTrainer trainer, IPairwiseEvaluator evaluator, TimeProvider? clock = null,
        LoopTransport? transport = null)
    {
        services.AddLoopServices(registry, pipeline, paths, snapshots, trainer, evaluator, clock);
        services.AddMassTransit(bus =>
        {
            bus.AddLoopConsumers();
            bus.UsingLoopTransport(transport ?? LoopTransport.InMemory, (context, cfg) => cfg.ConfigureLoopEndpoints(context));
        });
        return services;
    }

    /// <summary>
    /// Puts the bus on <paramref name="transport"/> with the loop's delivery guarantees, then lets
    /// <paramref name="configureEndpoints"/> add the receive endpoints (<see cref="ConfigureLoopEndpoints"/>, or a
    /// role's subset of them). Every endpoint retries a failing message at <see cref="LoopTransport.RetryIntervals"/>
    /// and then moves it to its <c>_error</c> queue. On RabbitMQ, queues and exchanges are durable, messages are
    /// persistent, and a send or publish completes only once the broker has confirmed it.
    /// </summary>
    public static void UsingLoopTransport(
        this IBusRegistrationConfigurator bus, LoopTransport transport, Action<IBusRegistrationContext, IReceiveConfigurator> configureEndpoints)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(configureEndpoints);
        if (transport.Broker is not { } broker)
        {
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseLoopRetry();
                configureEndpoints(context, cfg);
            });
            return;
        }

        bus.UsingRabbitMq((context, cfg) =>
        {
            cfg.Host(broker.Host, (ushort)broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.User);
                h.Password(broker.Password);
                h.PublisherConfirmation = true;
                h.RequestedConnectionTimeout(broker.StartTimeout);
            });
            // Receive endpoints declare durable, non-auto-delete queues and exchanges and sends are persistent:
            // MassTransit's defaults on RabbitMQ, which a run needs to survive a broker restart (the RabbitMQ
            // tests check both on a real broker).
            cfg.UseLoopRetry();
            configureEndpoints(context, cfg);
        });
    }

    /// <summary>
    /// Starts the bus; on RabbitMQ, fails with <see cref="LoopTransportException"/> (saying which broker and what
    /// to check) when the broker does not accept the connection within <see cref="RabbitMqSettings.StartTimeout"/>,
    /// instead of retrying forever.
    /// </summary>
    public static Task StartLoopBusAsync(this IBusControl bus, LoopTransport transport, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(transport);
        return transport.Broker is { } broker ? RabbitMqStart.StartAsync(bus, broker, cancellationToken) : bus.StartAsync(cancellationToken);
    }

    private static void UseLoopRetry(this IBusFactoryConfigurator cfg) =>
        cfg.UseMessageRetry(r => r.Intervals([.. LoopTransport.RetryIntervals]));


    /// <summary>
    /// The services of the embedded, all-in-one loop: the orchestrator on <paramref name="registry"/>'s file and one
    /// worker with one CPU slot running the in-process ML.NET trainer (its folder beside the registry file).
    /// </summary>
    public static IServiceCollection AddLoopServices(
        this IServiceCollection services, ModelRegistry registry, PipelineDefinition pipeline, LoopPaths paths,
        ISnapshotSource snapshots, IRewardModelTrainer trainer, IPairwiseEvaluator evaluator, TimeProvider? clock = null) =>
        services.AddLoopServices(new LoopHost
        {
            Roles = LoopRoles.All,
            Registry = registry,
            Pipeline = pipeline,
            Paths = paths,
            Snapshots = snapshots,
            Trainers = new InProcessTrainers(snapshots, trainer, evaluator),
            Worker = new WorkerOptions { WorkDirectory = Path.Combine(Path.GetDirectoryName(registry.DatabasePath)!, "worker") },
            Clock = clock ?? TimeProvider.System,
        });

    /// <summary>The services of the roles <paramref name="host"/> names, and the bus observer that starts and stops them with the bus.</summary>
    /// <exception cref="ArgumentException">A role lacks a part it needs (the orchestrator its registry, pipeline, paths and snapshot source).</exception>
    public static IServiceCollection AddLoopServices(this IServiceCollection services, LoopHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        services.AddSingleton(host).AddSingleton(host.Clock);
        if (host.Roles.HasFlag(LoopRoles.Orchestrator))
        {
            var registry = host.Registry ?? throw new ArgumentException("the orchestrator needs a registry", nameof(host));
            services.AddSingleton(registry)
                .AddSingleton(host.Pipeline ?? throw new ArgumentException("the orchestrator needs a pipeline", nameof(host)))
                .AddSingleton(host.Paths ?? throw new ArgumentException("the orchestrator needs its artifact paths", nameof(host)))
                .AddSingleton(host.Snapshots ?? throw new ArgumentException("the orchestrator needs a snapshot source", nameof(host)))
                .AddSingleton(host.Orchestrator)
                .AddSingleton(_ => new JobStore(registry.DatabasePath, host.Clock))
                .AddSingleton<RunReconciler>()
                .AddSingleton<JobSupervisor>();
        }

        if (host.Roles.HasFlag(LoopRoles.Worker))
        {
            services.AddSingleton(host.Worker)
                .AddSingleton(sp => new JobExecutor(host.Worker, host.Trainers))
                .AddSingleton<JobWorker>();
        }

        services.AddBusObserver<LoopLifecycle>();
        return services;
    }

    /// <summary>Completes once the started bus's loop takes messages: at once for an orchestrator, when its endpoints are connected for a worker.</summary>
    /// <exception cref="Exception">The worker could not start (the exception says why).</exception>
    public static Task LoopReadyAsync(this IServiceProvider services, CancellationToken cancellationToken = default) =>
        services.GetService<JobWorker>() is { } worker ? worker.Ready.WaitAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>Registers the loop's consumers (only the endpoints of the host's roles use them).</summary>
    public static void AddLoopConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<RetrainTriggerConsumer>();
        bus.AddConsumer<JobReportConsumer>();
    }

    /// <summary>
    /// The orchestrator's receive endpoints (a worker connects its own when it starts). Triggers one at a time: a
    /// trigger must see the previous run's state. Reports in parallel: each is one short transaction.
    /// </summary>
    public static void ConfigureLoopEndpoints(this IReceiveConfigurator cfg, IBusRegistrationContext context)
    {
        var roles = context.GetService<LoopHost>()?.Roles ?? LoopRoles.All;
        if (!roles.HasFlag(LoopRoles.Orchestrator))
        {
            return;
        }

        cfg.ReceiveEndpoint(LoopQueues.Triggers, e =>
        {
            e.ConcurrentMessageLimit = 1;
            e.ConfigureConsumer<RetrainTriggerConsumer>(context);
        });
        cfg.ReceiveEndpoint(LoopQueues.JobReports, e =>
        {
            e.ConcurrentMessageLimit = 8;
            e.ConfigureConsumer<JobReportConsumer>(context);
        });
    }
}
