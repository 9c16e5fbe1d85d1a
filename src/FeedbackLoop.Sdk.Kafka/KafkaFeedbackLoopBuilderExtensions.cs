using Confluent.Kafka;
using FeedbackLoop.Sdk.DependencyInjection;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// Beside AddFeedbackLoop, in the namespace apps already import for service registration.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses Kafka as the SDK's transport in dependency injection.</summary>
public static class KafkaFeedbackLoopBuilderExtensions
{
    /// <summary>
    /// Sends to Kafka at <paramref name="bootstrapServers"/>, or else at <c>FeedbackLoop:Kafka:BootstrapServers</c>; the
    /// topic is <c>FeedbackLoop:Kafka:Topic</c> (the contract's by default). A missing setting fails host start with its path.
    /// </summary>
    public static FeedbackLoopBuilder UseKafka(this FeedbackLoopBuilder builder, string? bootstrapServers = null, Action<ProducerConfig>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseNamedTransport(
            "Kafka",
            provider =>
            {
                var options = provider.GetRequiredService<IOptions<FeedbackLoopOptions>>().Value;
                // One record may take as long as the whole retry budget, and no longer: the budget is the promise.
                var deliveryTimeout = options.Retry.Enabled ? KafkaFeedbackTransport.DeliveryTimeoutFor(options.Retry.TimeBudget) : KafkaFeedbackTransport.DefaultDeliveryTimeout;
                return new KafkaFeedbackTransport(bootstrapServers ?? options.Kafka.BootstrapServers!, options.Kafka.Topic, configure,
                    provider.GetService<ILoggerFactory>()?.CreateLogger<KafkaFeedbackTransport>(), deliveryTimeout);
            },
            options => Problems(options.Kafka, bootstrapServers));
    }

    private static IEnumerable<(string Key, string Problem)> Problems(FeedbackLoopOptions.KafkaSection kafka, string? bootstrapServers)
    {
        if (string.IsNullOrWhiteSpace(bootstrapServers ?? kafka.BootstrapServers)) yield return ("Kafka:BootstrapServers", "missing; set it, or pass the servers to UseKafka()");
        if (string.IsNullOrWhiteSpace(kafka.Topic)) yield return ("Kafka:Topic", "missing");
    }
}
