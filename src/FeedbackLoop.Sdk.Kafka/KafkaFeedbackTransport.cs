using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.Sdk.Kafka;

/// <summary>
/// Sends events straight to Kafka: an idempotent producer with <c>acks=all</c>, key = <c>session_id</c> so a
/// session stays on one partition and in order. A record whose event was reported inside a span carries it
/// as a W3C <c>traceparent</c> header. A batch completes when every record is acknowledged; when
/// some are not (broker down past the delivery timeout), it throws a retryable
/// <see cref="FeedbackTransportException"/> listing just those, so a retry or the spool resends only them.
/// </summary>
public sealed class KafkaFeedbackTransport : IFeedbackTransport
{
    /// <summary>
    /// Default delivery timeout per record. librdkafka's own default is 5 minutes; shorter hands an outage
    /// to the SDK's retry and spool, which can wait longer without holding records in the producer.
    /// </summary>
    public static readonly TimeSpan DefaultDeliveryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The most librdkafka log lines a transport passes to the logger in a minute; the rest are counted and summed up.</summary>
    public const int MaxClientLogLinesPerMinute = 6;

    // librdkafka treats 0 as "no timeout"; a budget that small still gets one short try.
    private static readonly TimeSpan MinDeliveryTimeout = TimeSpan.FromSeconds(1);

    // librdkafka looks for timed-out records once a second, so a record fails 0-1 s after its timeout: half of that
    // taken off the budget centres the give-up on it (within half a second either way).
    private static readonly TimeSpan HalfTimeoutScan = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The delivery timeout (<c>message.timeout.ms</c>) that gives a record up at <paramref name="retryBudget"/>, within
    /// half a second either way (librdkafka notices timeouts once a second); at least one second.
    /// </summary>
    public static TimeSpan DeliveryTimeoutFor(TimeSpan retryBudget) =>
        retryBudget - HalfTimeoutScan < MinDeliveryTimeout ? MinDeliveryTimeout : retryBudget - HalfTimeoutScan;

    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _topic;

    /// <summary>Creates the transport for the given cluster.</summary>
    /// <param name="bootstrapServers">Kafka bootstrap servers, <c>host:port,...</c>.</param>
    /// <param name="topic">The events topic; the contract's by default.</param>
    /// <param name="configure">Optional changes to the producer settings (security, timeouts).</param>
    /// <param name="logger">Where librdkafka's own lines go (rate-limited, naming the brokers); none: they are dropped, never written to stderr.</param>
    /// <param name="deliveryTimeout">
    /// How long librdkafka tries one record (<c>message.timeout.ms</c>); <see cref="DefaultDeliveryTimeout"/> unless given.
    /// Dependency injection passes the SDK's <c>Retry:TimeBudget</c>, so a broker outage is given up on within the budget.
    /// </param>
    public KafkaFeedbackTransport(
        string bootstrapServers, string topic = KafkaTopics.Events, Action<ProducerConfig>? configure = null,
        ILogger? logger = null, TimeSpan? deliveryTimeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        var timeout = deliveryTimeout ?? DefaultDeliveryTimeout;
        if (timeout < MinDeliveryTimeout) timeout = MinDeliveryTimeout;
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
            ClientId = "feedbackloop-sdk",
            MessageTimeoutMs = (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds),
        };
        configure?.Invoke(config);
        var log = new KafkaClientLog(logger ?? NullLogger.Instance, config.BootstrapServers ?? bootstrapServers, MaxClientLogLinesPerMinute);
        _producer = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, message) => log.OnLog(message))
            .SetErrorHandler((_, error) => log.OnError(error))
            .Build();
        _topic = topic;
    }

    /// <inheritdoc />
    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return default;
        var completion = new BatchCompletion(batch.Count);
        var traces = new TraceHeaders();
        for (var i = 0; i < batch.Count; i++)
        {
            var item = batch[i];
            var position = i;
            var message = new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(item.SessionId),
                Value = item.Json.ToArray(),
                Headers = traces.For(item),
            };
            try
            {
                _producer.Produce(_topic, message, report => completion.Settle(position, report.Error.IsError ? report.Error.Reason : null));
            }
            catch (ProduceException<byte[], byte[]> ex)
            {
                completion.Settle(position, ex.Error.Reason);
            }
        }
        await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (completion.Failed() is { Count: > 0 } failed)
        {
            throw new FeedbackTransportException(
                $"{failed.Count} of {batch.Count} records were not acknowledged: {completion.FirstError}", retryable: true, undelivered: failed);
        }
        return SendResult.AllDelivered(batch.Count);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The <c>traceparent</c> header of each record whose event was reported inside a span. Events of one
    /// request usually share their span, so consecutive ones share the formatted bytes too (librdkafka
    /// copies header values when a record is produced).
    /// </summary>
    private sealed class TraceHeaders
    {
        private System.Diagnostics.ActivityContext _last;
        private byte[]? _lastValue;

        public Headers? For(SerializedEvent item)
        {
            if (!item.HasTraceContext) return null;
            var context = item.TraceContext;
            if (_lastValue is null || context != _last)
            {
                var value = new byte[TraceParent.Length];
                // False only for ids that are not valid W3C ids; such a record simply goes without the header.
                if (!TraceParent.TryFormat(context, value, out _)) return null;
                (_last, _lastValue) = (context, value);
            }
            return new Headers { { TraceParent.HeaderName, _lastValue } };
        }
    }

    /// <summary>Counts delivery reports down to zero, remembering which positions failed.</summary>
    private sealed class BatchCompletion(int count)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly bool[] _failed = new bool[count];
        private int _remaining = count;
        private string? _firstError;

        public Task Task => _done.Task;

        public string? FirstError => Volatile.Read(ref _firstError);

        public void Settle(int position, string? error)
        {
            if (error is not null)
            {
                _failed[position] = true;
                Interlocked.CompareExchange(ref _firstError, error, null);
            }
            if (Interlocked.Decrement(ref _remaining) == 0) _done.TrySetResult();
        }

        public List<int> Failed()
        {
            var failed = new List<int>();
            for (var i = 0; i < _failed.Length; i++)
            {
                if (_failed[i]) failed.Add(i);
            }
            return failed;
        }
    }
}
