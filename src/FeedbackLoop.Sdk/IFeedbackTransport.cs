using System.Diagnostics;

namespace FeedbackLoop.Sdk;

/// <summary>
/// Delivers batches of events somewhere durable (Kafka, an HTTP collector, the disk spool). Decorators
/// (retry, spool) wrap another transport behind this same interface. The client calls the outermost one
/// from its background sender only, one batch at a time.
/// </summary>
public interface IFeedbackTransport : IAsyncDisposable
{
    /// <summary>
    /// Delivers the batch. Returns how many events were delivered, spooled or permanently rejected; every
    /// event of the batch is in exactly one of those. Throws when the batch could not be delivered for now
    /// (a transient fault): a <see cref="FeedbackTransportException"/> says whether a retry may help and
    /// which events are still undelivered; any other exception counts as retryable for the whole batch.
    /// </summary>
    Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken);
}

/// <summary>An event in its wire form, with the fields transports need without parsing it.</summary>
/// <param name="EventId">The event's <c>event_id</c> (the downstream deduplication key).</param>
/// <param name="SessionId">The event's <c>session_id</c> (the Kafka key, so a session stays in order).</param>
/// <param name="Json">Its UTF-8 JSON as docs/contract/events.md defines it, already redacted.</param>
public sealed record SerializedEvent(string EventId, string SessionId, ReadOnlyMemory<byte> Json)
{
    /// <summary>
    /// The app's span that was current when the event was reported (<see cref="Activity.Current"/> at the
    /// call), or <c>default</c> when there was none. A transport that can carry it per record sends it as a
    /// W3C <c>traceparent</c> (<see cref="Contracts.TraceParent"/>); the others leave it out. It is not part
    /// of the event: it travels beside the JSON, never inside it.
    /// </summary>
    public ActivityContext TraceContext { get; init; }

    /// <summary>Whether <see cref="TraceContext"/> names a span (a W3C trace id is set).</summary>
    public bool HasTraceContext => TraceContext.TraceId != default;
}

/// <summary>What became of a batch a transport returned from without throwing.</summary>
/// <param name="Delivered">Events the destination acknowledged.</param>
/// <param name="Spooled">Events written durably to the disk spool, to be delivered later.</param>
/// <param name="Rejected">Events the destination refused for good (for example HTTP 400 or 413); never retried.</param>
public readonly record struct SendResult(int Delivered, int Spooled = 0, int Rejected = 0)
{
    /// <summary>Every event of a batch of <paramref name="count"/> was delivered.</summary>
    public static SendResult AllDelivered(int count) => new(count);

    /// <summary>Number of events this result accounts for.</summary>
    public int Total => Delivered + Spooled + Rejected;
}

/// <summary>
/// A transport's failure to deliver a batch, with what a retry policy needs to decide. A transport that
/// delivered part of a batch lists the positions still undelivered, so a retry resends only those.
/// </summary>
public sealed class FeedbackTransportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FeedbackTransportException(string message, bool retryable, TimeSpan? retryAfter = null, int? statusCode = null,
        IReadOnlyList<int>? undelivered = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Retryable = retryable;
        RetryAfter = retryAfter;
        StatusCode = statusCode;
        Undelivered = undelivered;
    }

    /// <summary>Creates a retryable exception.</summary>
    public FeedbackTransportException() : this("delivery failed", retryable: true) { }

    /// <summary>Creates a retryable exception.</summary>
    public FeedbackTransportException(string message) : this(message, retryable: true) { }

    /// <summary>Creates a retryable exception.</summary>
    public FeedbackTransportException(string message, Exception innerException) : this(message, retryable: true, innerException: innerException) { }

    /// <summary>Whether sending the same events again later may succeed.</summary>
    public bool Retryable { get; }

    /// <summary>How long the destination asked to wait (HTTP <c>Retry-After</c>), if it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The HTTP status, for HTTP transports.</summary>
    public int? StatusCode { get; }

    /// <summary>Positions in the batch that were not delivered; null means the whole batch.</summary>
    public IReadOnlyList<int>? Undelivered { get; }
}
