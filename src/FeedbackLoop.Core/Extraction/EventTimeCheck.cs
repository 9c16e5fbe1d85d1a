using FeedbackLoop.Contracts;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Whether an event's <c>occurred_at</c> is plausible for when it arrived (docs/contract/events.md, "Event time
/// limits"). Pure: the caller passes the reference time, so the decision is a table and replays judge alike.
/// </summary>
public static class EventTimeCheck
{
    /// <summary>Fixed reason for an event dated too far ahead (no user data: it goes to headers and logs).</summary>
    public const string TooFarAheadReason = "occurred_at is further ahead of the record's time than the allowed clock skew";

    /// <summary>Fixed reason for an event dated before the horizon.</summary>
    public const string TooOldReason = "occurred_at is older than the event-time horizon";

    /// <summary>
    /// The time an event is judged against: the Kafka record's timestamp when it has one that is not ahead of the
    /// extractor's clock, else the clock. The record's timestamp makes the decision deterministic (a replay next
    /// month judges every record exactly as the first run did); the clock bounds it because a CreateTime
    /// timestamp is written by the producer, so a hostile sender can forge it together with <c>occurred_at</c>.
    /// </summary>
    public static DateTimeOffset Reference(DateTimeOffset? recordTimestamp, DateTimeOffset now) =>
        recordTimestamp is { } ts && ts <= now ? ts : now;

    /// <summary>Null when <paramref name="occurredAt"/> lies within the settings' skew and horizon of <paramref name="reference"/>.</summary>
    public static EventRejection? Check(DateTimeOffset occurredAt, DateTimeOffset reference, ExtractionSettings settings)
    {
        if (occurredAt > SaturatingTime.Add(reference, settings.MaxFutureSkew))
            return new EventRejection("occurred_at", TooFarAheadReason) { Kind = EventRejectionKind.EventTimeOutOfRange };
        if (settings.MaxEventAge is { } horizon && occurredAt < SaturatingTime.Add(reference, -horizon))
            return new EventRejection("occurred_at", TooOldReason) { Kind = EventRejectionKind.EventTimeOutOfRange };
        return null;
    }
}
