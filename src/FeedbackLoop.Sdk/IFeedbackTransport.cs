using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk;

/// <summary>
/// Delivers batches of events somewhere durable (Kafka, an HTTP collector). The client calls it from its
/// background sender only, one batch at a time.
/// </summary>
public interface IFeedbackTransport : IAsyncDisposable
{
    /// <summary>
    /// Delivers the batch, returning once every event was acknowledged; throws if any was not. Each event
    /// comes with its serialized EVENTS.md JSON, so transports never serialize on their own.
    /// </summary>
    Task SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken);
}

/// <summary>An event together with its wire form.</summary>
/// <param name="Event">The event.</param>
/// <param name="Json">Its UTF-8 JSON, as <see cref="EventJson"/> writes it.</param>
public sealed record SerializedEvent(FeedbackEvent Event, ReadOnlyMemory<byte> Json);
