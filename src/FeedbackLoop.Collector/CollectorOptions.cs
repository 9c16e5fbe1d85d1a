using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Collector;

/// <summary>The collector's limits and budgets; each default is documented in docs/COLLECTOR.md.</summary>
internal sealed record CollectorOptions
{
    /// <summary>Kafka bootstrap servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The operator's librdkafka properties (TLS, SASL, tuning), added to the collector's producer.</summary>
    public KafkaClientProperties KafkaProperties { get; init; } = KafkaClientProperties.None;

    /// <summary>The keys file (<c>feedbackloop keys</c>).</summary>
    public required string KeysFile { get; init; }

    /// <summary>Where accepted events go; key = <c>session_id</c>.</summary>
    public string EventsTopic { get; init; } = KafkaTopics.Events;

    /// <summary>Where the rejected events of an authenticated request go, with the extractor's reason headers.</summary>
    public string DeadLetterTopic { get; init; } = KafkaTopics.DeadLetters;

    /// <summary>One event, in bytes (the contract's 32 KiB; a larger event makes the whole request 413).</summary>
    public int MaxEventBytes { get; init; } = EventLimits.MaxEventBytes;

    /// <summary>One request body on the wire, compressed or not (500 KiB).</summary>
    public int MaxBodyBytes { get; init; } = EventLimits.MaxBatchBytes;

    /// <summary>One request body after decompression (5 MiB): a gzip bomb stops here.</summary>
    public int MaxDecompressedBytes { get; init; } = 5 * 1024 * 1024;

    /// <summary>Events in one request (2,500).</summary>
    public int MaxEvents { get; init; } = 2_500;

    /// <summary>How deep an event's JSON may nest (32, the event parser's own bound); the batch array adds one level.</summary>
    public int MaxJsonDepth { get; init; } = 32;

    /// <summary>Request bytes (on the wire and decompressed) held at once over all requests (64 MiB); past it, 429.</summary>
    public long MaxInFlightBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How long Kafka may take to acknowledge a batch (5 s, under the SDK's 10 s request timeout); past it, 503.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a client may take to send the request headers (10 s).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The slowest body a client may send, in bytes per second after <see cref="MinBodyRateGrace"/> (240, Kestrel's default).</summary>
    public double MinBodyBytesPerSecond { get; init; } = 240;

    /// <summary>How long a body may stay under <see cref="MinBodyBytesPerSecond"/> before the request is ended (5 s).</summary>
    public TimeSpan MinBodyRateGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The Retry-After of a 429 (1 s).</summary>
    public TimeSpan RetryAfterBusy { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The Retry-After of a 503 (5 s).</summary>
    public TimeSpan RetryAfterUnavailable { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the keys file is checked for changes (1 s).</summary>
    public TimeSpan KeysReloadInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The extractor's event-time limits (clock skew, horizon): the collector judges <c>occurred_at</c> as it does.</summary>
    public ExtractionSettings EventTime { get; init; } = new();

    /// <summary>How long the collector answers <c>GET /v1/apps/{app}/model</c> from the app's serving state as last read from the store (1 s): a promotion or rollback reaches clients within it.</summary>
    public TimeSpan ServingCacheFor { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// How long the producer gathers records into one Kafka request (5 ms, librdkafka's <c>linger.ms</c>). Every answer
    /// waits for it once; in exchange many requests' events travel in one produce request per partition, which is most
    /// of what the producer and the brokers spend per event.
    /// </summary>
    public TimeSpan KafkaLinger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The first option out of range, or null.</summary>
    public string? Invalid() =>
        MaxEventBytes is < 1 or > EventLimits.MaxEventBytes ? $"MaxEventBytes must be 1 to {EventLimits.MaxEventBytes} (the contract's limit)"
        : MaxBodyBytes < 2 ? "MaxBodyBytes must be at least 2"
        : MaxDecompressedBytes < MaxBodyBytes ? "MaxDecompressedBytes must be at least MaxBodyBytes"
        : MaxEvents < 1 ? "MaxEvents must be at least 1"
        : MaxJsonDepth is < 2 or > 32 ? "MaxJsonDepth must be 2 to 32 (the event parser's own bound)"
        : MaxInFlightBytes < (long)MaxBodyBytes + MaxDecompressedBytes ? "MaxInFlightBytes must hold at least one request (MaxBodyBytes + MaxDecompressedBytes)"
        : DeliveryTimeout <= TimeSpan.Zero ? "DeliveryTimeout must be positive"
        : ServingCacheFor < TimeSpan.Zero ? "ServingCacheFor must not be negative"
        : KafkaLinger < TimeSpan.Zero || KafkaLinger >= DeliveryTimeout ? "KafkaLinger must be 0 or more and under DeliveryTimeout"
        : null;
}
