using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace FeedbackLoop.Contracts;

/// <summary>
/// The one place that turns events into their wire JSON (docs/contract/events.md) and back. The SDK, the collector and
/// the extractors all use it, so the wire format cannot drift between producer and consumer.
/// </summary>
public static partial class EventJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    /// <summary>Serializes one event as compact UTF-8 JSON.</summary>
    public static byte[] SerializeToUtf8Bytes(FeedbackEvent evt)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, evt);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes one event as compact UTF-8 JSON into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, FeedbackEvent evt)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("event_id"u8, evt.EventId);
        writer.WriteString("type"u8, evt.Type);
        writer.WriteNumber("v"u8, evt.V);
        writer.WriteString("app_id"u8, evt.AppId);
        writer.WriteString("session_id"u8, evt.SessionId);
        writer.WriteString("user_id"u8, evt.UserId);
        writer.WriteString("occurred_at"u8, FormatTimestamp(evt.OccurredAt));
        writer.WritePropertyName("data"u8);
        JsonSerializer.Serialize(writer, evt.Data, TypeInfoFor(evt.Data.Type)!);
        writer.WriteEndObject();
    }

    /// <summary>RFC 3339 in UTC with microseconds, the resolution the datasets keep.</summary>
    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// Parses and validates one event. Never throws on bad input: returns false with the field at fault
    /// and a reason a person can act on.
    /// </summary>
    public static bool TryParse(
        ReadOnlySpan<byte> utf8,
        [NotNullWhen(true)] out FeedbackEvent? evt,
        [NotNullWhen(false)] out EventRejection? rejection)
    {
        evt = null;
        if (utf8.Length > EventLimits.MaxEventBytes)
        {
            rejection = new EventRejection("$", $"event is {utf8.Length} bytes; the limit is {EventLimits.MaxEventBytes}") { Kind = EventRejectionKind.TooLarge };
            return false;
        }

        try
        {
            rejection = ParseEnvelope(utf8, out evt);
            return rejection is null;
        }
        catch (JsonException ex)
        {
            // Position only: the parser's own message quotes the input, and reasons end up in logs.
            rejection = new EventRejection("$", $"not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1})") { Kind = EventRejectionKind.NotJson };
            return false;
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader.GetString (and the serializer's string converter) throws this, not JsonException, when
            // a string's bytes are not UTF-8 or a \uXXXX escape decodes to a lone surrogate such as "x\ud800", in any string or
            // property name. The JSON is well-formed, the text is not; it is refused like any malformed record
            // rather than stopping the caller (issue 10, finding 2). The reason is fixed: it must not quote the input.
            rejection = new EventRejection("$", InvalidTextReason) { Kind = EventRejectionKind.NotJson };
            return false;
        }
    }

    /// <summary>
    /// The reason for a string the reader cannot turn into text: raw bytes that are not UTF-8, or a <c>\uXXXX</c> escape
    /// that decodes to a lone surrogate (the reader fails both the same way, so one reason names both).
    /// </summary>
    public const string InvalidTextReason = "a string is not valid Unicode (invalid UTF-8, or an escape that is a lone surrogate)";

    /// <summary>The reason for a top-level field outside the envelope; fixed, so the field's name (sender's text) is never quoted.</summary>
    public const string UnknownFieldReason = "unknown top-level field (v1 allows only event_id, type, v, app_id, session_id, user_id, occurred_at, data)";

    /// <summary>The reason for a <c>type</c> that is not a v1 event type; fixed, so the value (sender's text) is never quoted.</summary>
    public const string UnknownTypeReason = "unknown event type (see docs/contract/events.md for the v1 types)";

    /// <summary>The reason for an <c>app_id</c> that breaks <see cref="AppIds.Rule"/>.</summary>
    public const string AppIdReason = "must be " + AppIds.Rule;

    private static EventRejection? ParseEnvelope(ReadOnlySpan<byte> utf8, out FeedbackEvent? evt)
    {
        evt = null;
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return new EventRejection("$", "an event must be a JSON object") { Kind = EventRejectionKind.NotJson };

        string? eventId = null, appId = null, sessionId = null, userId = null;
        DateTimeOffset? occurredAt = null;
        var occurredAtValid = false;
        JsonTypeInfo? typeInfo = null;
        int? version = null;
        var dataStart = -1L;
        var dataEnd = -1L;
        EventData? data = null;
        var seen = 0;

        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject) break;
            var field = Match(ref reader);
            // The name is the sender's text (up to the whole event, with control characters): the rejection names the
            // rule and the path only, never the name (issue 10, finding 8).
            if (field == EnvelopeField.Unknown) return new EventRejection("$", UnknownFieldReason);
            var bit = 1 << (int)field;
            if ((seen & bit) != 0) return new EventRejection(NameOf(field), "appears twice");
            seen |= bit;
            reader.Read();

            if (field == EnvelopeField.Data)
            {
                if (reader.TokenType != JsonTokenType.StartObject) return new EventRejection("data", "must be an object");
                dataStart = reader.TokenStartIndex;
                // When the type came first, as every writer of ours puts it, the usual shape is read in place, saving a
                // second pass over its bytes; anything else is skipped now and read from its bytes below, as always.
                if (typeInfo is not null && TryReadDataInPlace(reader, typeInfo.Type, out var inPlace, out var after))
                {
                    data = inPlace;
                    reader = after;
                }
                else
                {
                    reader.Skip();
                }
                dataEnd = reader.BytesConsumed;
                continue;
            }
            if (field == EnvelopeField.V)
            {
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var v))
                    return new EventRejection("v", "must be an integer");
                version = v;
                continue;
            }
            if (reader.TokenType != JsonTokenType.String) return new EventRejection(NameOf(field), "must be a string");
            switch (field)
            {
                case EnvelopeField.Type:
                    // Matched on the raw bytes: the hot path allocates no string for a known type.
                    // An unknown type stays unread: the rejection does not quote it.
                    typeInfo = MatchType(ref reader);
                    break;
                case EnvelopeField.OccurredAt:
                    // Parsed once: the value that passed the checks is the one kept.
                    if (!reader.ValueIsEscaped && IsRfc3339Utc(reader.ValueSpan) && reader.TryGetDateTimeOffset(out var parsed) && parsed.Offset == TimeSpan.Zero)
                    {
                        occurredAt = parsed;
                        occurredAtValid = true;
                    }
                    break;
                default:
                    // An app id repeats in every event of the app: one string for all of them (RepeatedText).
                    var text = field == EnvelopeField.AppId ? RepeatedText.Read(ref reader) : reader.GetString()!;
                    if (field == EnvelopeField.EventId) eventId = text;
                    else if (field == EnvelopeField.AppId) appId = text;
                    else if (field == EnvelopeField.SessionId) sessionId = text;
                    else if (field == EnvelopeField.UserId) userId = text;
                    break;
            }
        }

        // A second value or stray bytes after the object would otherwise be accepted unread (Read throws on garbage).
        if (reader.Read()) return new EventRejection("$", "unexpected content after the event object") { Kind = EventRejectionKind.NotJson };

        foreach (var required in RequiredFields)
        {
            if ((seen & (1 << (int)required)) == 0) return new EventRejection(NameOf(required), "required field is missing");
        }

        if (IdRejection("event_id", eventId!, 64) is { } e1) return e1;
        if (LengthRejection("app_id", appId!, AppIds.MaxLength) is { } e2) return e2;
        if (!AppIds.IsValid(appId)) return new EventRejection("app_id", AppIdReason);
        if (IdRejection("session_id", sessionId!, 128) is { } e3) return e3;
        if (IdRejection("user_id", userId!, 128) is { } e4) return e4;
        if (version != EventLimits.Version) return new EventRejection("v", $"unsupported version {version}; this pipeline reads v{EventLimits.Version}") { Kind = EventRejectionKind.UnsupportedVersion };
        if (!occurredAtValid)
            return new EventRejection("occurred_at", "must be an RFC 3339 UTC timestamp such as 2026-01-31T12:00:00Z");
        if (typeInfo is null) return new EventRejection("type", UnknownTypeReason) { Kind = EventRejectionKind.UnknownType };

        if (data is null)
        {
            try
            {
                // The usual shape is read without the serializer's per-event cost; anything else, valid or not, goes to it.
                var dataBytes = utf8[(int)dataStart..(int)dataEnd];
                if (!EventDataReader.TryRead(dataBytes, typeInfo.Type, out data)) data = (EventData?)JsonSerializer.Deserialize(dataBytes, typeInfo);
            }
            catch (JsonException ex)
            {
                return DataRejection(ex);
            }
        }
        if (data is null) return new EventRejection("data", "must be an object");
        if (data.Validate() is { } invalid) return invalid;

        evt = new FeedbackEvent(eventId!, appId!, sessionId!, userId!, occurredAt!.Value, data);
        return null;
    }

    /// <summary>
    /// Reads <c>data</c> with <see cref="EventDataReader"/> from a copy of the envelope's reader at its opening brace. True
    /// only when that read ended exactly on the matching closing brace: then <paramref name="after"/> is the reader there.
    /// On false nothing was consumed, and the caller skips and reads the bytes as it would have without this.
    /// </summary>
    private static bool TryReadDataInPlace(Utf8JsonReader probe, Type type, out EventData? data, out Utf8JsonReader after)
    {
        after = probe;
        var depth = probe.CurrentDepth;
        try
        {
            data = EventDataReader.ReadInPlace(ref probe, type);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Whatever failed here fails again, with its reason, on the way the caller takes next.
            data = null;
        }
        if (data is null || probe.TokenType != JsonTokenType.EndObject || probe.CurrentDepth != depth)
        {
            data = null;
            return false;
        }
        after = probe;
        return true;
    }

    /// <summary>Turns a System.Text.Json failure inside <c>data</c> into a field and a reason.</summary>
    private static EventRejection DataRejection(JsonException ex)
    {
        var message = ex.Message;
        // ex.Path is the JSON path ($.input[0].content); the message names C# parameters, so build fields from the path.
        // Only a path of known names survives: one that could carry the sender's text (a bracketed name) becomes "data".
        var path = ex.Path is { Length: > 1 } p && IsPlainPath(p) ? "data" + p[1..] : "data";
        // The serializer wraps the reader's invalid-UTF-16 failure (a lone surrogate escape) in a JsonException.
        if (ex.InnerException is InvalidOperationException)
            return new EventRejection(path, InvalidTextReason) { Kind = EventRejectionKind.NotJson };
        const string missingMarker = "missing required properties including: '";
        var missing = message.IndexOf(missingMarker, StringComparison.Ordinal);
        if (missing >= 0)
        {
            var start = missing + missingMarker.Length;
            var end = message.IndexOf('\'', start);
            return new EventRejection(path + "." + message[start..end], "required field is missing");
        }
        if (message.Contains("parameter '", StringComparison.Ordinal) && message.Contains("null", StringComparison.Ordinal))
            return new EventRejection(path, "must not be null");
        // Our own converters throw with the rule ("must be ..."); System.Text.Json's own messages quote input.
        var reason = message.StartsWith("must be", StringComparison.Ordinal) ? message.Split(" Path:")[0] : "has the wrong type or value";
        return new EventRejection(path, reason);
    }

    /// <summary>A JSON path such as <c>$.input[0].content</c>: snake_case names, dots and numeric indexes only.</summary>
    private static bool IsPlainPath(string path)
    {
        if (path.Length > 128) return false;
        foreach (var c in path)
        {
            if (!(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '.' or '$' or '[' or ']')) return false;
        }
        return true;
    }

    private static EventRejection? LengthRejection(string field, string value, int max) =>
        value.Length is >= 1 && value.Length <= max ? null : new EventRejection(field, $"must be 1 to {max} characters");

    /// <summary>The reason for an id with a control character; fixed, so the id (sender's text) is never quoted.</summary>
    public const string IdControlCharacterReason = "must not contain control characters (U+0000 to U+001F, U+007F to U+009F)";

    /// <summary>
    /// An id's length, then its characters: any text but control characters. A NUL, a newline or an escape sequence in
    /// an id ends up in Kafka keys, file names of tools downstream and terminals, where it truncates or rewrites what
    /// a person sees.
    /// </summary>
    private static EventRejection? IdRejection(string field, string value, int max) =>
        LengthRejection(field, value, max)
        ?? (value.AsSpan().ContainsAny(IdControlCharacters) ? new EventRejection(field, IdControlCharacterReason) : null);

    /// <summary>The characters <see cref="IdControlCharacterReason"/> names: one vectorised pass over an id finds any of them.</summary>
    private static readonly SearchValues<char> IdControlCharacters = SearchValues.Create(
        string.Concat(Enumerable.Range(0x00, 0x20).Concat(Enumerable.Range(0x7f, 0x21)).Select(c => (char)c)));

    /// <summary>
    /// The shape <c>YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)</c>, exactly the JSON Schemas' pattern, checked by
    /// hand because it runs for every event and a regex here cost more than the rest of the parse. The
    /// value itself is then parsed by <see cref="Utf8JsonReader.TryGetDateTimeOffset(out DateTimeOffset)"/>.
    /// </summary>
    private static bool IsRfc3339Utc(ReadOnlySpan<byte> s)
    {
        static bool Digits(ReadOnlySpan<byte> span)
        {
            foreach (var b in span)
            {
                if (b is < (byte)'0' or > (byte)'9') return false;
            }
            return true;
        }
        if (s.Length < 20) return false;
        if (!Digits(s[..4]) || s[4] != '-' || !Digits(s[5..7]) || s[7] != '-' || !Digits(s[8..10]) || s[10] is not ((byte)'T' or (byte)'t')
            || !Digits(s[11..13]) || s[13] != ':' || !Digits(s[14..16]) || s[16] != ':' || s[17] is < (byte)'0' or > (byte)'5' || !Digits(s[18..19]))
        {
            return false;
        }
        var rest = s[19..];
        if (rest[0] == '.')
        {
            var digits = 1;
            while (digits < rest.Length && rest[digits] is >= (byte)'0' and <= (byte)'9') digits++;
            if (digits == 1) return false;
            rest = rest[digits..];
        }
        return rest.Length == 1 ? rest[0] is (byte)'Z' or (byte)'z' : rest.SequenceEqual("+00:00"u8);
    }

    /// <summary>The source-generated metadata for a type's <c>data</c>, or null for an unknown type.</summary>
    private static JsonTypeInfo? TypeInfoFor(string type) => type switch
    {
        EventTypes.GenerationShown => EventJsonContext.Default.GenerationShown,
        EventTypes.FeedbackThumb => EventJsonContext.Default.ThumbGiven,
        EventTypes.FeedbackRating => EventJsonContext.Default.RatingGiven,
        EventTypes.GenerationRegenerated => EventJsonContext.Default.GenerationRegenerated,
        EventTypes.GenerationEdited => EventJsonContext.Default.GenerationEdited,
        EventTypes.GenerationCopied => EventJsonContext.Default.GenerationCopied,
        EventTypes.GenerationAccepted => EventJsonContext.Default.GenerationAccepted,
        EventTypes.GenerationRejected => EventJsonContext.Default.GenerationRejected,
        EventTypes.ComparisonChosen => EventJsonContext.Default.ComparisonChosen,
        EventTypes.GenerationDwell => EventJsonContext.Default.GenerationDwell,
        EventTypes.SessionEnded => EventJsonContext.Default.SessionEnded,
        _ => null,
    };

    // Every type's name as UTF-8 with its metadata, looked up once: matching against a string would transcode it per type
    // tried, and enumerating EventTypes.All through its interface allocated an enumerator per event.
    private static readonly (byte[] Name, JsonTypeInfo Info)[] KnownTypes =
        [.. EventTypes.All.Select(type => (Encoding.UTF8.GetBytes(type), TypeInfoFor(type)!))];

    private static JsonTypeInfo? MatchType(ref Utf8JsonReader reader)
    {
        foreach (var (name, info) in KnownTypes)
        {
            if (reader.ValueTextEquals(name)) return info;
        }
        return null;
    }

    /// <summary>Top-level envelope fields, matched on the raw UTF-8 name without allocating.</summary>
    private enum EnvelopeField { Unknown = -1, EventId, Type, V, AppId, SessionId, UserId, OccurredAt, Data }

    private static readonly EnvelopeField[] RequiredFields =
    [
        EnvelopeField.EventId, EnvelopeField.Type, EnvelopeField.V, EnvelopeField.AppId,
        EnvelopeField.SessionId, EnvelopeField.UserId, EnvelopeField.OccurredAt, EnvelopeField.Data,
    ];

    private static string NameOf(EnvelopeField field) => field switch
    {
        EnvelopeField.EventId => "event_id",
        EnvelopeField.Type => "type",
        EnvelopeField.V => "v",
        EnvelopeField.AppId => "app_id",
        EnvelopeField.SessionId => "session_id",
        EnvelopeField.UserId => "user_id",
        EnvelopeField.OccurredAt => "occurred_at",
        EnvelopeField.Data => "data",
        _ => "?",
    };

    private static EnvelopeField Match(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("event_id"u8)) return EnvelopeField.EventId;
        if (reader.ValueTextEquals("type"u8)) return EnvelopeField.Type;
        if (reader.ValueTextEquals("v"u8)) return EnvelopeField.V;
        if (reader.ValueTextEquals("app_id"u8)) return EnvelopeField.AppId;
        if (reader.ValueTextEquals("session_id"u8)) return EnvelopeField.SessionId;
        if (reader.ValueTextEquals("user_id"u8)) return EnvelopeField.UserId;
        if (reader.ValueTextEquals("occurred_at"u8)) return EnvelopeField.OccurredAt;
        if (reader.ValueTextEquals("data"u8)) return EnvelopeField.Data;
        return EnvelopeField.Unknown;
    }
}

/// <summary>Source-generated System.Text.Json metadata for every v1 <c>data</c> type (snake_case).</summary>
/// <remarks>
/// <c>IgnoreReadOnlyProperties</c> keeps the computed members of <see cref="EventData"/> (<c>Type</c>,
/// <c>SubjectGenerationId</c>, and any added later) out of <c>data</c>: an attribute on the abstract base is not
/// inherited by the overrides, which is how they once leaked onto the wire. Contract fields are positional
/// record members (init-only), so they are never read-only; the schema tests catch one that is.
/// </remarks>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    IgnoreReadOnlyProperties = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(GenerationShown))]
[JsonSerializable(typeof(ThumbGiven))]
[JsonSerializable(typeof(RatingGiven))]
[JsonSerializable(typeof(GenerationRegenerated))]
[JsonSerializable(typeof(GenerationEdited))]
[JsonSerializable(typeof(GenerationCopied))]
[JsonSerializable(typeof(GenerationAccepted))]
[JsonSerializable(typeof(GenerationRejected))]
[JsonSerializable(typeof(ComparisonChosen))]
[JsonSerializable(typeof(GenerationDwell))]
[JsonSerializable(typeof(SessionEnded))]
internal sealed partial class EventJsonContext : JsonSerializerContext;
