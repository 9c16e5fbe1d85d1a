using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.Collector;

/// <summary>
/// The collector's one producer: idempotent, <c>acks=all</c>, key = <c>session_id</c>. A batch is sent whole (accepted
/// events to the events topic, rejected ones to the dead-letter topic with the extractor's headers and source
/// <c>collector</c>) and is done only when Kafka acknowledged every record, or failed as a whole.
/// </summary>
internal sealed class KafkaDelivery : IDisposable
{
    /// <summary>The <c>fl.source</c> of dead letters the collector writes (the extractor's are <c>topic/partition/offset</c>).</summary>
    public const string Source = "collector";

    private static readonly byte[] SourceBytes = Encoding.UTF8.GetBytes(Source);
    private static readonly DeliveryReport<byte[]?, byte[]?> Failed = new() { Error = new Error(ErrorCode.Local_Fail) };
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly CollectorOptions _options;

    public KafkaDelivery(CollectorOptions options)
    {
        _options = options;
        var timeoutMs = (int)Math.Max(1, options.DeliveryTimeout.TotalMilliseconds);
        _producer = new ProducerBuilder<byte[]?, byte[]?>(options.KafkaProperties.ApplyTo(new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = options.KafkaLinger.TotalMilliseconds,
            CompressionType = CompressionType.Lz4,
            // The outcome of a record is all the collector reads from its report: copying each record's key, value and
            // headers back into managed memory would cost an allocation and a copy per event for nothing.
            DeliveryReportFields = "none",
            // A batch's answer waits on its slowest record: Nagle's delay would add to every answer's latency.
            SocketNagleDisable = true,
            ClientId = "feedbackloop-collector",
            // librdkafka fails each record it could not deliver within the budget, so every batch ends within it.
            MessageTimeoutMs = timeoutMs,
            RequestTimeoutMs = Math.Min(timeoutMs, 30_000),
        })).SetLogHandler((_, _) => { /* librdkafka's own lines name brokers only; the outcome is the answer's status */ }).Build();
    }

    public Handle Handle => _producer.Handle;

    /// <summary>Sends the batch's records; true once Kafka acknowledged all of them, false when any failed or the budget passed.</summary>
    public async Task<bool> SendAsync(ReadOnlyMemory<byte> body, List<AcceptedEvent> accepted, List<RejectedEvent> rejected)
    {
        var tally = new Tally(accepted.Count + rejected.Count);
        foreach (var a in accepted)
        {
            Produce(_options.EventsTopic, new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(a.SessionId),
                Value = body.Slice(a.Element.Start, a.Element.Length).ToArray(),
            }, tally.OnReport);
        }
        foreach (var r in rejected)
        {
            Produce(_options.DeadLetterTopic, new Message<byte[]?, byte[]?>
            {
                Value = body.Slice(r.Element.Start, r.Element.Length).ToArray(),
                Headers = new Headers
                {
                    { ExtractionLoop.ReasonHeader, Encoding.UTF8.GetBytes(r.Reason) },
                    { ExtractionLoop.FieldHeader, Encoding.UTF8.GetBytes(r.Field) },
                    { ExtractionLoop.SourceHeader, SourceBytes },
                    // No log of origin: a restarted extractor never takes these for its own dead letters (ADR 0012).
                    { ExtractionLoop.OriginHeader, [] },
                },
            }, tally.OnReport);
        }
        try
        {
            // librdkafka settles every record within MessageTimeoutMs; the margin only guards against a lost callback.
            return await tally.Task.WaitAsync(_options.DeliveryTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private void Produce(string topic, Message<byte[]?, byte[]?> message, Action<DeliveryReport<byte[]?, byte[]?>> onReport)
    {
        try
        {
            _producer.Produce(topic, message, onReport);
        }
        catch (Exception e) when (e is ProduceException<byte[]?, byte[]?> or KafkaException)
        {
            // The local queue is full or the producer is failing: this record is not delivered, so neither is the batch.
            onReport(Failed);
        }
    }


    public void Dispose()
    {
        _producer.Flush(_options.DeliveryTimeout);
        _producer.Dispose();
    }

    /// <summary>Counts a batch's acknowledgements down; the result is false once any record failed.</summary>
    private sealed class Tally
    {
        private readonly TaskCompletionSource<bool> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending;
        private int _failed;

        public Tally(int count)
        {
            _pending = count;
            // One handler for the whole batch, not a closure per record.
            OnReport = report => Settle(!report.Error.IsError);
            if (count == 0) _done.TrySetResult(true);
        }

        public Action<DeliveryReport<byte[]?, byte[]?>> OnReport { get; }

        public Task<bool> Task => _done.Task;

        private void Settle(bool delivered)
        {
            if (!delivered) Interlocked.Exchange(ref _failed, 1);
            if (Interlocked.Decrement(ref _pending) == 0) _done.TrySetResult(Volatile.Read(ref _failed) == 0);
        }
    }
}
