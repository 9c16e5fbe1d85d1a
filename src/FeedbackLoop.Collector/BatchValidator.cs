using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Collector;

/// <summary>An element that passed: its bytes and its Kafka key.</summary>
internal readonly record struct AcceptedEvent(BatchElement Element, string SessionId);

/// <summary>An element refused on its own: the answer's entry and the dead letter's headers.</summary>
internal sealed record RejectedEvent(int Index, BatchElement Element, string? EventId, string Field, string Reason, string Tag);

/// <summary>
/// Judges each element exactly as the extractor judges a record (<see cref="EventJson.TryParse"/>, then
/// <see cref="EventTimeCheck"/> against the clock, which is what the record's timestamp will be), plus the collector's own
/// rule: a write key writes only its own app's events. Pure given the clock.
/// </summary>
internal static class BatchValidator
{
    /// <summary>Fixed reason for an event of another app than the key's (it never names either app).</summary>
    public const string AppMismatchReason = "the write key belongs to another app than this event's app_id";

    public static (List<AcceptedEvent> Accepted, List<RejectedEvent> Rejected) Judge(
        ReadOnlySpan<byte> body, List<BatchElement> elements, string keyApp, DateTimeOffset now, ExtractionSettings eventTime)
    {
        var accepted = new List<AcceptedEvent>(elements.Count);
        var rejected = new List<RejectedEvent>();
        for (var i = 0; i < elements.Count; i++)
        {
            var element = elements[i];
            var bytes = body.Slice(element.Start, element.Length);
            if (!EventJson.TryParse(bytes, out var evt, out var rejection))
            {
                rejected.Add(new RejectedEvent(i, element, EventIdOf(bytes), rejection.Field, rejection.Reason, CollectorMetrics.ReasonTag(rejection.Kind)));
                continue;
            }
            if (!string.Equals(evt.AppId, keyApp, StringComparison.Ordinal))
            {
                rejected.Add(new RejectedEvent(i, element, evt.EventId, "app_id", AppMismatchReason, "app_mismatch"));
                continue;
            }
            if (EventTimeCheck.Check(evt.OccurredAt, now, eventTime) is { } outOfRange)
            {
                rejected.Add(new RejectedEvent(i, element, evt.EventId, outOfRange.Field, outOfRange.Reason, CollectorMetrics.ReasonTag(outOfRange.Kind)));
                continue;
            }
            accepted.Add(new AcceptedEvent(element, evt.SessionId));
        }
        return (accepted, rejected);
    }

    /// <summary>
    /// The <c>event_id</c> of an event the parser refused, when it is a top-level string of 1 to 64 characters, so the
    /// sender can match the answer to its event; null otherwise. It goes back to the sender only, never to a log.
    /// </summary>
    private static string? EventIdOf(ReadOnlySpan<byte> element)
    {
        try
        {
            var reader = new Utf8JsonReader(element, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("event_id"u8);
                reader.Read();
                if (isId)
                {
                    return reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: >= 1 and <= 64 } id ? id : null;
                }
                reader.Skip();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not readable enough to find an id: the answer names the index alone.
        }
        return null;
    }
}
