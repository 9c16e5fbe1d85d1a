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
/// <remarks>Field and reason are fixed text for people: the rule and the field's JSON path, never the record's content
/// (an unknown field's name or type is not quoted), so they are safe in logs and dead-letter headers. <see cref="Kind"/>
/// is the low-cardinality code that metrics and alerts use.</remarks>
public sealed record EventRejection(string Field, string Reason)
{
    /// <summary>The class of the fault.</summary>
    public EventRejectionKind Kind { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Reason}";
}

/// <summary>The class of an <see cref="EventRejection"/>: a fixed set, safe as a metric tag.</summary>
public enum EventRejectionKind
{
    /// <summary>A field is missing, unknown, repeated, of the wrong type or out of its range.</summary>
    InvalidField,
    /// <summary>Not JSON, not a JSON object, or something after the object.</summary>
    NotJson,
    /// <summary>Larger than the contract's 32 KiB.</summary>
    TooLarge,
    /// <summary>A <c>v</c> this pipeline does not read.</summary>
    UnsupportedVersion,
    /// <summary>A <c>type</c> the contract does not define.</summary>
    UnknownType,
    /// <summary>The record has no value (Kafka).</summary>
    Empty,
    /// <summary>The Kafka key is not the event's <c>session_id</c>.</summary>
    KeyMismatch,
    /// <summary><c>occurred_at</c> is further ahead than the allowed clock skew, or older than the horizon.</summary>
    EventTimeOutOfRange,
    /// <summary>Handling the record failed unexpectedly (a bug); the record was dead-lettered so the loop goes on.</summary>
    InternalError,
}
