namespace FeedbackLoop.Contracts;

/// <summary>The v1 envelope: who, where and when, around a type-specific <see cref="Data"/>.</summary>
/// <param name="EventId">Unique per event (the SDK uses UUIDv7); the pipeline de-duplicates on it.</param>
/// <param name="AppId">The app (tenant): 1–64 chars of <c>[a-z0-9._-]</c>.</param>
/// <param name="SessionId">Conversation/session; the Kafka message key.</param>
/// <param name="UserId">A pseudonymous id, never an e-mail or a name.</param>
/// <param name="OccurredAt">When it happened on the client (UTC).</param>
/// <param name="Data">The payload; its runtime type decides the envelope's <c>type</c>.</param>
public sealed record FeedbackEvent(
    string EventId,
    string AppId,
    string SessionId,
    string UserId,
    DateTimeOffset OccurredAt,
    EventData Data)
{
    /// <summary>The envelope's <c>type</c>, taken from <see cref="Data"/>.</summary>
    public string Type => Data.Type;

    /// <summary>The envelope's <c>v</c>: always 1 in this contract.</summary>
#pragma warning disable CA1822 // part of the envelope's shape; an instance member so that v2 can vary it per event
    public int V => EventLimits.Version;
#pragma warning restore CA1822
}

/// <summary>Why an event was refused: the offending field (JSON path-like, e.g. <c>data.score</c>) and a reason.</summary>
public sealed record EventRejection(string Field, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Reason}";
}
