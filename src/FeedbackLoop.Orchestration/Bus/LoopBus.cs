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

/// <summary>Registers the loop's consumers on MassTransit; the transport is the caller's choice.</summary>
public static class LoopBus
{
    /// <summary>
    /// Adds the loop's services and consumers on MassTransit's in-memory transport (embedded mode); the
    /// consumers themselves are transport-neutral.
    /// </summary>
    public static IServiceCollection AddFeedbackLoopOrchestration(
        this IServiceCollection services, ModelRegistry registry, PipelineDefinition pipeline, LoopPaths paths,
        ISnapshotSource snapshots, IRewardModelTrainer trainer, IPairwiseEvaluator evaluator, TimeProvider? clock = null)
    {
        services.AddSingleton(registry).AddSingleton(pipeline).AddSingleton(paths).AddSingleton(snapshots)
            .AddSingleton(trainer).AddSingleton(evaluator).AddSingleton(clock ?? TimeProvider.System);
        EndpointConvention.Map<TuneModel>(new Uri("queue:" + LoopQueues.Tuning));
        EndpointConvention.Map<EvaluateCandidate>(new Uri("queue:" + LoopQueues.Evaluation));
        services.AddMassTransit(bus =>
        {
            bus.AddConsumer<RetrainTriggerConsumer>();
            bus.AddConsumer<TuningConsumer>();
            bus.AddConsumer<EvaluationConsumer>();
            bus.UsingInMemory((context, cfg) =>
            {
                // One message at a time per queue: triggers must see the previous run's state, and one
                // CPU training job at a time is all two cores can take.
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
            });
        });
        return services;
    }
}
