using System.Text.Json;

namespace FeedbackLoop.Contracts;

/// <summary>
/// Reads the usual shape of each v1 <c>data</c> object straight off a <see cref="Utf8JsonReader"/>: the exact snake_case
/// names, each at most once, with values of the declared JSON types. It exists because the serializer's path for
/// records with constructor parameters was the largest per-event cost of the extractor. Anything it is not certain
/// about (an unknown or repeated name, an escaped name, a null where the contract has none, a number that does not fit,
/// a missing required field, malformed JSON) makes it return false, and the caller deserializes with System.Text.Json,
/// which accepts or refuses the object exactly as it always did: this reader never decides a rejection.
/// </summary>
internal static class EventDataReader
{
    /// <summary>The data object of <paramref name="type"/> in <paramref name="utf8"/>, or false to leave it to the serializer.</summary>
    public static bool TryRead(ReadOnlySpan<byte> utf8, Type type, out EventData? data)
    {
        data = null;
        try
        {
            // Default reader options, as the serializer's: no comments, no trailing commas.
            var reader = new Utf8JsonReader(utf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            data = Read(ref reader, type);
            if (data is null || reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                data = null;
                return false;
            }
            return true;
        }
        catch (JsonException)
        {
            data = null;
            return false;
        }
        catch (InvalidOperationException)
        {
            // A lone surrogate escape in a string: the serializer refuses it with the reason it always gave.
            data = null;
            return false;
        }
    }

    /// <summary>
    /// Reads a <c>data</c> object of the usual shape from a reader standing on its opening brace, leaving it on the last
    /// token read; null (or a thrown reader error) when the shape is not the usual one. The caller checks it stopped on
    /// the matching closing brace.
    /// </summary>
    internal static EventData? ReadInPlace(ref Utf8JsonReader reader, Type type) => Read(ref reader, type);

    private static EventData? Read(ref Utf8JsonReader reader, Type type)
    {
        string? a, b;
        long number;
        if (type == typeof(GenerationShown)) return ReadShown(ref reader);
        if (type == typeof(SessionEnded)) return reader.Read() && reader.TokenType == JsonTokenType.EndObject ? SessionEnded.Instance : null;
        if (type == typeof(ThumbGiven)) return ReadThumb(ref reader);
        if (type == typeof(RatingGiven))
            return ReadIdAndNumber(ref reader, "score"u8, out a, out number) && number is >= int.MinValue and <= int.MaxValue ? new RatingGiven(a!, (int)number) : null;
        if (type == typeof(GenerationDwell)) return ReadIdAndNumber(ref reader, "visible_ms"u8, out a, out number) ? new GenerationDwell(a!, number) : null;
        if (type == typeof(GenerationRegenerated))
            return ReadStrings(ref reader, "generation_id"u8, "replacement_generation_id"u8, out a, out b) ? new GenerationRegenerated(a!, b!) : null;
        if (type == typeof(GenerationEdited)) return ReadStrings(ref reader, "generation_id"u8, "edited_output"u8, out a, out b) ? new GenerationEdited(a!, b!) : null;
        if (type == typeof(ComparisonChosen)) return ReadStrings(ref reader, "candidate_set_id"u8, "chosen_generation_id"u8, out a, out b) ? new ComparisonChosen(a!, b!) : null;
        if (type == typeof(GenerationCopied)) return ReadStrings(ref reader, "generation_id"u8, default, out a, out _) ? new GenerationCopied(a!) : null;
        if (type == typeof(GenerationAccepted)) return ReadStrings(ref reader, "generation_id"u8, default, out a, out _) ? new GenerationAccepted(a!) : null;
        if (type == typeof(GenerationRejected)) return ReadStrings(ref reader, "generation_id"u8, default, out a, out _) ? new GenerationRejected(a!) : null;
        return null;
    }

    private static GenerationShown? ReadShown(ref Utf8JsonReader reader)
    {
        string? generationId = null, modelVersion = null, output = null, promptVersion = null, variant = null, candidateSetId = null;
        List<ConversationTurn>? input = null;
        long? position = null, latencyMs = null;
        var seen = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueIsEscaped) return null;
            int bit;
            bool ok;
            if (reader.ValueTextEquals("generation_id"u8)) (bit, ok) = (1, RequiredString(ref reader, out generationId));
            else if (reader.ValueTextEquals("model_version"u8)) (bit, ok) = (2, RequiredString(ref reader, out modelVersion, repeated: true));
            else if (reader.ValueTextEquals("input"u8)) (bit, ok) = (4, Messages(ref reader, out input));
            else if (reader.ValueTextEquals("output"u8)) (bit, ok) = (8, RequiredString(ref reader, out output));
            else if (reader.ValueTextEquals("prompt_version"u8)) (bit, ok) = (16, OptionalString(ref reader, out promptVersion, repeated: true));
            else if (reader.ValueTextEquals("variant"u8)) (bit, ok) = (32, OptionalString(ref reader, out variant, repeated: true));
            else if (reader.ValueTextEquals("candidate_set_id"u8)) (bit, ok) = (64, OptionalString(ref reader, out candidateSetId));
            else if (reader.ValueTextEquals("position"u8)) (bit, ok) = (128, OptionalNumber(ref reader, out position) && position is null or (>= int.MinValue and <= int.MaxValue));
            else if (reader.ValueTextEquals("latency_ms"u8)) (bit, ok) = (256, OptionalNumber(ref reader, out latencyMs));
            else return null;
            if (!ok || (seen & bit) != 0) return null;
            seen |= bit;
        }
        if ((seen & 15) != 15) return null;
        return new GenerationShown(generationId!, modelVersion!, input!, output!, promptVersion, variant, candidateSetId, (int?)position, latencyMs);
    }

    private static ThumbGiven? ReadThumb(ref Utf8JsonReader reader)
    {
        string? generationId = null;
        ThumbValue? value = null;
        var seen = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueIsEscaped) return null;
            int bit;
            if (reader.ValueTextEquals("generation_id"u8))
            {
                bit = 1;
                if (!RequiredString(ref reader, out generationId)) return null;
            }
            else if (reader.ValueTextEquals("value"u8))
            {
                bit = 2;
                if (!reader.Read() || reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped) return null;
                value = reader.ValueTextEquals("up"u8) ? ThumbValue.Up : reader.ValueTextEquals("down"u8) ? ThumbValue.Down : null;
                if (value is null) return null;
            }
            else
            {
                return null;
            }
            if ((seen & bit) != 0) return null;
            seen |= bit;
        }
        return seen == 3 ? new ThumbGiven(generationId!, value!.Value) : null;
    }

    /// <summary><c>generation_id</c> and one integer field, both required.</summary>
    private static bool ReadIdAndNumber(ref Utf8JsonReader reader, ReadOnlySpan<byte> numberName, out string? id, out long number)
    {
        id = null;
        number = 0;
        var seen = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueIsEscaped) return false;
            int bit;
            if (reader.ValueTextEquals("generation_id"u8))
            {
                bit = 1;
                if (!RequiredString(ref reader, out id)) return false;
            }
            else if (reader.ValueTextEquals(numberName))
            {
                bit = 2;
                if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out number)) return false;
            }
            else
            {
                return false;
            }
            if ((seen & bit) != 0) return false;
            seen |= bit;
        }
        return seen == 3;
    }

    /// <summary>One or two required string fields (<paramref name="second"/> empty: one).</summary>
    private static bool ReadStrings(ref Utf8JsonReader reader, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, out string? a, out string? b, bool firstRepeats = false)
    {
        a = null;
        b = null;
        var seen = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueIsEscaped) return false;
            int bit;
            if (reader.ValueTextEquals(first))
            {
                bit = 1;
                if (!RequiredString(ref reader, out a, firstRepeats)) return false;
            }
            else if (!second.IsEmpty && reader.ValueTextEquals(second))
            {
                bit = 2;
                if (!RequiredString(ref reader, out b)) return false;
            }
            else
            {
                return false;
            }
            if ((seen & bit) != 0) return false;
            seen |= bit;
        }
        return seen == (second.IsEmpty ? 1 : 3);
    }

    private static bool Messages(ref Utf8JsonReader reader, out List<ConversationTurn>? messages)
    {
        messages = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) return false;
        var list = new List<ConversationTurn>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject || !ReadStrings(ref reader, "role"u8, "content"u8, out var role, out var content, firstRepeats: true)) return false;
            list.Add(new ConversationTurn(role!, content!));
        }
        messages = list;
        return true;
    }

    /// <summary>A required string; <paramref name="repeated"/>: a field whose few values repeat across events (<see cref="RepeatedText"/>).</summary>
    private static bool RequiredString(ref Utf8JsonReader reader, out string? value, bool repeated = false)
    {
        value = reader.Read() && reader.TokenType == JsonTokenType.String ? (repeated ? RepeatedText.Read(ref reader) : reader.GetString()) : null;
        return value is not null;
    }

    /// <summary>An optional string (null allowed); <paramref name="repeated"/> as for <see cref="RequiredString"/>.</summary>
    private static bool OptionalString(ref Utf8JsonReader reader, out string? value, bool repeated = false)
    {
        value = null;
        if (!reader.Read()) return false;
        if (reader.TokenType == JsonTokenType.Null) return true;
        if (reader.TokenType != JsonTokenType.String) return false;
        value = repeated ? RepeatedText.Read(ref reader) : reader.GetString();
        return true;
    }

    private static bool OptionalNumber(ref Utf8JsonReader reader, out long? value)
    {
        value = null;
        if (!reader.Read()) return false;
        if (reader.TokenType == JsonTokenType.Null) return true;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var number)) return false;
        value = number;
        return true;
    }
}
