namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// Which transport carries the loop's messages: MassTransit's in-memory transport (embedded mode, one
/// process) or a RabbitMQ broker (the loop's roles on several machines). The consumers, queue names,
/// retry policy and error queues are the same on both.
/// </summary>
public sealed record LoopTransport
{
    private LoopTransport(RabbitMqSettings? broker) => Broker = broker;

    /// <summary>Everything in one process; messages are lost when it exits.</summary>
    public static LoopTransport InMemory { get; } = new((RabbitMqSettings?)null);

    /// <summary>The RabbitMQ broker, or null in memory.</summary>
    public RabbitMqSettings? Broker { get; }

    /// <summary>
    /// The intervals of the in-memory retry every consumer gets: long enough to ride out a dropped connection
    /// or a locked file, short enough that holding the message meanwhile costs nothing. A fault that outlasts
    /// them moves the message to the queue's <c>_error</c> queue (RabbitMQ on Debian lacks the delayed-exchange
    /// plugin that delayed redelivery would need).
    /// </summary>
    public static IReadOnlyList<TimeSpan> RetryIntervals { get; } =
        [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)];

    /// <summary>The loop over RabbitMQ.</summary>
    public static LoopTransport RabbitMq(RabbitMqSettings broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        return new LoopTransport(broker);
    }

    /// <summary>
    /// RabbitMQ when <see cref="RabbitMqSettings.UriVariable"/> is set (see <see cref="RabbitMqSettings.FromEnvironment"/>), otherwise in memory.
    /// </summary>
    /// <exception cref="FormatException">The variable is set but is not a RabbitMQ URI.</exception>
    public static LoopTransport FromEnvironment() => RabbitMqSettings.FromEnvironment() is { } broker ? RabbitMq(broker) : InMemory;

    /// <summary>"in-memory", or the broker without its password.</summary>
    public override string ToString() => Broker is null ? "in-memory" : $"RabbitMQ {Broker}";
}

/// <summary>The loop's transport could not be used; the message says which broker and what to check.</summary>
public sealed class LoopTransportException : Exception
{
    /// <summary>An error with a message only.</summary>
    public LoopTransportException() { }

    /// <summary>An error with its message.</summary>
    public LoopTransportException(string message) : base(message) { }

    /// <summary>An error with its message and the fault that caused it.</summary>
    public LoopTransportException(string message, Exception innerException) : base(message, innerException) { }
}
