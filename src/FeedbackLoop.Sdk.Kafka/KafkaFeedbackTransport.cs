using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Kafka;

/// <summary>
/// Sends events straight to Kafka: an idempotent producer with <c>acks=all</c>, key = <c>session_id</c> so a
/// session stays on one partition and in order. A batch completes when every record is acknowledged.
/// </summary>
public sealed class KafkaFeedbackTransport : IFeedbackTransport
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _topic;

    /// <summary>Creates the transport for the given cluster.</summary>
    /// <param name="bootstrapServers">Kafka bootstrap servers, <c>host:port,...</c>.</param>
    /// <param name="topic">The events topic; the contract's by default.</param>
    /// <param name="configure">Optional changes to the producer settings (security, timeouts).</param>
    public KafkaFeedbackTransport(string bootstrapServers, string topic = KafkaTopics.Events, Action<ProducerConfig>? configure = null)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
            ClientId = "feedbackloop-sdk",
        };
        configure?.Invoke(config);
        _producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        _topic = topic;
    }

    /// <inheritdoc />
    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return default;
        var completion = new BatchCompletion(batch.Count);
        foreach (var item in batch)
        {
            var message = new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(item.SessionId), Value = item.Json.ToArray() };
            try
            {
                _producer.Produce(_topic, message, completion.OnDelivered);
            }
            catch (ProduceException<byte[], byte[]> ex)
            {
                completion.OnFailed(ex.Error.Reason);
            }
        }
        await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return SendResult.AllDelivered(batch.Count);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Counts delivery reports down to zero; the first error fails the whole batch.</summary>
    private sealed class BatchCompletion(int count)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;
        private string? _error;

        public Task Task => _done.Task;

        public void OnDelivered(DeliveryReport<byte[], byte[]> report)
        {
            if (report.Error.IsError) Interlocked.CompareExchange(ref _error, report.Error.Reason, null);
            Settle();
        }

        public void OnFailed(string reason)
        {
            Interlocked.CompareExchange(ref _error, reason, null);
            Settle();
        }

        private void Settle()
        {
            if (Interlocked.Decrement(ref _remaining) != 0) return;
            if (_error is null) _done.TrySetResult();
            else _done.TrySetException(new KafkaException(new Error(ErrorCode.Local_Fail, "delivery failed: " + _error)));
        }
    }
}
