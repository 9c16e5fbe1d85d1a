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
/// Wires the loop onto MassTransit: the services its consumers need, the consumers, and their endpoints.
/// The pieces are separate so that tests can put them on MassTransit's test harness and the hosts on
/// the in-memory transport (embedded) or, later, RabbitMQ — the consumers do not change.
/// </summary>
public static class LoopBus
{
    /// <summary>Adds the loop services and an in-memory MassTransit bus carrying the loop (embedded mode).</summary>
    public static IServiceCollection AddFeedbackLoopOrchestration(
        this IServiceCollection services, ModelRegistry registry, PipelineDefinition pipeline, LoopPaths paths,
        ISnapshotSource snapshots, IRewardModelTrainer trainer, IPairwiseEvaluator evaluator, TimeProvider? clock = null)
    {
        services.AddLoopServices(registry, pipeline, paths, snapshots, trainer, evaluator, clock);
        services.AddMassTransit(bus =>
        {
            bus.AddLoopConsumers();
            bus.UsingInMemory((context, cfg) => cfg.ConfigureLoopEndpoints(context));
        });
        return services;
    }

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
    public static void ConfigureLoopEndpoints<TEndpointConfigurator>(this IReceiveConfigurator<TEndpointConfigurator> cfg, IBusRegistrationContext context)
        where TEndpointConfigurator : IReceiveEndpointConfigurator
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
