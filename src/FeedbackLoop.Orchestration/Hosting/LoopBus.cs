using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Orchestration.Trigger;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using System.Diagnostics.Metrics;
using FeedbackLoop.Orchestration.Telemetry;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FeedbackLoop.Orchestration.Hosting;

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
    /// null). Start the bus with <see cref="LoopTransports.StartLoopBusAsync"/>.
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

    /// <summary>
    /// The services of the roles <paramref name="host"/> names, with their background work as hosted services (the
    /// orchestrator's supervisor loop, the worker) that start once the bus is up and stop before it stops. A Generic Host
    /// or MassTransit's test harness runs them; a bare service provider starts them with <see cref="StartLoopRolesAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A role lacks a part it needs (the orchestrator its registry, pipeline, paths and snapshot source).</exception>
    public static IServiceCollection AddLoopServices(this IServiceCollection services, LoopHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        services.AddSingleton(host).AddSingleton(host.Clock);
        // Signs the offers this process sends and checks those it receives (docs/adr/0031-signed-job-offers.md).
        services.AddSingleton(new JobSigner(host.JobKey ?? JobKey.Generate()));
        // One set of instruments per process; the host's meter factory when there is one. Runs are counted from the
        // store, so only an orchestrator (which has it) reports them.
        services.AddSingleton(sp => new OrchestrationTelemetry(
            sp.GetService<IMeterFactory>(), host.Registry is { } store ? () => store.RunningRuns().Count : null));
        if (host.Roles.HasFlag(LoopRoles.Orchestrator))
        {
            var registry = host.Registry ?? throw new ArgumentException("the orchestrator needs a registry", nameof(host));
            var paths = host.Paths ?? throw new ArgumentException("the orchestrator needs its artifact paths", nameof(host));
            // models/ is the orchestrator's: owner-only from the start (or tightened, if an older version made it looser).
            PrivateFiles.CreateRoot(paths.ArtifactsRoot);
            var pipeline = host.Pipeline ?? throw new ArgumentException("the orchestrator needs a pipeline", nameof(host));
            services.AddSingleton(registry)
                .AddSingleton(pipeline)
                .AddSingleton<IRegisteredApps>(host.RegisteredApps ?? pipeline)
                .AddSingleton<UnregisteredAppCommits>()
                .AddSingleton(paths)
                .AddSingleton(host.Snapshots ?? throw new ArgumentException("the orchestrator needs a snapshot source", nameof(host)))
                .AddSingleton(host.Orchestrator)
                .AddSingleton(_ => new JobStore(registry.Database, host.Clock))
                .AddSingleton<JobOffers>()
                .AddSingleton<RunReconciler>()
                .AddSingleton(_ => new ReviewWaits(registry.Database, host.Clock))
                .AddSingleton(sp => ActivatorUtilities.CreateInstance<RetrainStarter>(sp, host.Orchestrator.ReviewRecountInterval))
                .AddSingleton<ModelActionAnnouncer>()
                .AddSingleton<JobSupervisor>()
                .AddSingleton<LoopSupervisorService>()
                .AddHostedService(sp => sp.GetRequiredService<LoopSupervisorService>());
        }

        if (host.Roles.HasFlag(LoopRoles.Worker))
        {
            services.AddSingleton(host.Worker)
                .AddSingleton(sp => new JobExecutor(host.Worker, host.Trainers, host.Snapshots))
                .AddSingleton<JobWorker>()
                .AddSingleton<LoopWorkerService>()
                .AddHostedService(sp => sp.GetRequiredService<LoopWorkerService>());
        }

        services.AddSingleton<LoopBusSignal>();
        services.AddBusObserver(sp => sp.GetRequiredService<LoopBusSignal>());
        return services;
    }

    /// <summary>
    /// Starts the roles' hosted services where no host does (a bare service provider whose bus the caller starts with
    /// <see cref="LoopTransports.StartLoopBusAsync"/>). They wait for the bus and stop when it stops.
    /// </summary>
    public static async Task StartLoopRolesAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        foreach (var role in new IHostedService?[] { services.GetService<LoopSupervisorService>(), services.GetService<LoopWorkerService>() })
        {
            if (role is not null)
            {
                await role.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
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
