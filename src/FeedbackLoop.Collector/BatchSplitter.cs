using System.Text.Json;

namespace FeedbackLoop.Collector;

/// <summary>One element of the batch array: where its bytes are in the body.</summary>
internal readonly record struct BatchElement(int Start, int Length);

/// <summary>
/// Cuts a body into the elements of its top-level JSON array in one pass, checking the request-wide limits on the way
/// (depth, element count, element size), before any element is parsed as an event. Each element is then judged alone
/// by the event parser; this pass only proves the body is one well-formed array.
/// </summary>
internal static class BatchSplitter
{
    /// <summary>The elements, or the refusal code of the whole request.</summary>
    public static (List<BatchElement>? Elements, string? Refusal) Split(ReadOnlySpan<byte> body, CollectorOptions options)
    {
        // The reader's own bound is above ours so that ours is the one that speaks (it names the reason).
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = options.MaxJsonDepth + 2, CommentHandling = JsonCommentHandling.Disallow });
        var elements = new List<BatchElement>();
        try
        {
            if (!reader.Read()) return (null, Refusals.NotJson);
            if (reader.TokenType != JsonTokenType.StartArray) return (null, Refusals.NotArray);
            var start = -1;
            while (reader.Read())
            {
                var token = reader.TokenType;
                if (token == JsonTokenType.EndArray && reader.CurrentDepth == 0) break;
                if (token is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth > options.MaxJsonDepth) return (null, Refusals.TooDeep);
                if (reader.CurrentDepth == 1 && token != JsonTokenType.PropertyName && token is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
                {
                    // An element starts here.
                    if (elements.Count == options.MaxEvents) return (null, Refusals.TooManyEvents);
                    start = (int)reader.TokenStartIndex;
                    if (token is JsonTokenType.StartObject or JsonTokenType.StartArray) continue;
                }
                else if (!(reader.CurrentDepth == 1 && token is JsonTokenType.EndObject or JsonTokenType.EndArray))
                {
                    continue;
                }
                // An element ends here.
                var length = (int)reader.BytesConsumed - start;
                if (length > options.MaxEventBytes) return (null, Refusals.EventTooLarge);
                elements.Add(new BatchElement(start, length));
            }
            // Anything after the array (a second value, stray bytes) makes the body something other than one array.
            if (reader.Read()) return (null, Refusals.NotJson);
        }
        catch (JsonException)
        {
            return (null, Refusals.NotJson);
        }
        return elements.Count == 0 ? (null, Refusals.EmptyBatch) : (elements, null);
    }
}
