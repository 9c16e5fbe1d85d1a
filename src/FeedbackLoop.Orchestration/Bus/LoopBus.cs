using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Pipelines;
using FeedbackLoop.Orchestration.Registry;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Orchestration.Bus;

/// <summary>Queue names of the loop's commands and events (the same on every transport).</summary>
public static class LoopQueues
{
    /// <summary>Where DatasetCommitted is handled (the retrain trigger).</summary>
    public const string Triggers = "feedbackloop-triggers";
    /// <summary>Where TuneModel commands go (tuning workers compete here).</summary>
    public const string Tuning = "feedbackloop-tune-model";
    /// <summary>Where EvaluateCandidate commands go.</summary>
    public const string Evaluation = "feedbackloop-evaluate-candidate";
}

/// <summary>
/// Wires the loop onto MassTransit: the services its consumers need, the consumers, their endpoints, and
/// the transport under them. The pieces are separate so that tests and hosts can put them on MassTransit's
/// test harness, the in-memory transport (embedded) or RabbitMQ — the consumers do not change.
/// </summary>
public static class LoopBus
{
    /// <summary>
    /// Adds the loop services and a MassTransit bus carrying the loop over <paramref name="transport"/>
    /// (in memory, the embedded mode, when null). Start the bus with <see cref="StartLoopBusAsync"/>.
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

    /// <summary>The singletons the consumers depend on.</summary>
    public static IServiceCollection AddLoopServices(
        this IServiceCollection services, ModelRegistry registry, PipelineDefinition pipeline, LoopPaths paths,
        ISnapshotSource snapshots, IRewardModelTrainer trainer, IPairwiseEvaluator evaluator, TimeProvider? clock = null) =>
        services.AddSingleton(registry).AddSingleton(pipeline).AddSingleton(paths).AddSingleton(snapshots)
            .AddSingleton(trainer).AddSingleton(evaluator).AddSingleton(clock ?? TimeProvider.System);

    /// <summary>Registers the loop's consumers and maps its commands to their queues.</summary>
    public static void AddLoopConsumers(this IBusRegistrationConfigurator bus)
    {
        EndpointConvention.Map<TuneModel>(new Uri("queue:" + LoopQueues.Tuning));
        EndpointConvention.Map<EvaluateCandidate>(new Uri("queue:" + LoopQueues.Evaluation));
        bus.AddConsumer<RetrainTriggerConsumer>();
        bus.AddConsumer<TuningConsumer>();
        bus.AddConsumer<EvaluationConsumer>();
    }

    /// <summary>
    /// One receive endpoint per step. One message at a time per queue: a trigger must see the previous
    /// run's state, and one CPU training job at a time is what two cores can take.
    /// </summary>
    public static void ConfigureLoopEndpoints(this IReceiveConfigurator cfg, IBusRegistrationContext context)
    {
        cfg.ReceiveEndpoint(LoopQueues.Triggers, e =>
        {
            e.ConcurrentMessageLimit = 1;
            e.ConfigureConsumer<RetrainTriggerConsumer>(context);
        });
        cfg.ReceiveEndpoint(LoopQueues.Tuning, e =>
        {
            e.ConcurrentMessageLimit = 1;
            e.ConfigureConsumer<TuningConsumer>(context);
        });
        cfg.ReceiveEndpoint(LoopQueues.Evaluation, e =>
        {
            e.ConcurrentMessageLimit = 1;
            e.ConfigureConsumer<EvaluationConsumer>(context);
        });
    }
}
