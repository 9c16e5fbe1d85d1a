using System.Text.Json;

namespace FeedbackLoop.Collector;

/// <summary>One element of the batch array: where its bytes are in the body.</summary>
internal readonly record struct BatchElement(int Start, int Length);

/// <summary>
/// Cuts a body into the elements of its top-level JSON array, checking the request-wide limits on the way (depth,
/// element count, element size), before any element is parsed as an event. Each element is then judged alone by the
/// event parser.
/// </summary>
/// <remarks>
/// Two ways to cut, with one answer. <see cref="Split"/> runs the JSON reader over the whole body and proves it is one
/// well-formed array: it decides every refusal. <see cref="TryScan"/> only finds the elements' edges (brackets, strings,
/// commas) at a fraction of the reader's cost, and gives up on anything unusual; the event parser then reads each
/// element in full anyway. On a well-formed array both return the same elements, so the endpoint scans first and asks
/// <see cref="Split"/> only when the scan gave up or an element was not JSON (docs/BENCHMARKS.md, the collector).
/// </remarks>
internal static class BatchSplitter
{
    /// <summary>
    /// The elements of a body whose structure is plainly sound: one array, elements separated by commas and JSON
    /// whitespace, none deeper, larger or more numerous than the limits. Null when anything is unusual: the caller then
    /// lets <see cref="Split"/> decide. It does not check the elements' own JSON: the event parser does.
    /// </summary>
    public static List<BatchElement>? TryScan(ReadOnlySpan<byte> body, CollectorOptions options)
    {
        var i = SkipWhitespace(body, 0);
        if (i == body.Length || body[i] != (byte)'[') return null;
        i = SkipWhitespace(body, i + 1);
        var elements = new List<BatchElement>(Math.Min(options.MaxEvents, 128));
        while (i < body.Length)
        {
            var start = i;
            var end = body[i] switch
            {
                (byte)'{' or (byte)'[' => EndOfContainer(body, i, options.MaxJsonDepth),
                (byte)'"' => EndOfString(body, i) + 1,
                // An element cannot start with a separator ("[,", "[1,,2]", "[1,]"): the reader names that fault.
                (byte)',' or (byte)']' or (byte)'}' or (byte)':' => -1,
                _ => EndOfScalar(body, i),
            };
            if (end <= start || end - start > options.MaxEventBytes || elements.Count == options.MaxEvents) return null;
            elements.Add(new BatchElement(start, end - start));
            i = SkipWhitespace(body, end);
            if (i == body.Length) return null;
            if (body[i] == (byte)']') return SkipWhitespace(body, i + 1) == body.Length ? elements : null;
            if (body[i] != (byte)',') return null;
            i = SkipWhitespace(body, i + 1);
        }
        return null;
    }

    // Just past the bracket that closes the one at open (depth counted as the reader does: the batch array is 0), or -1
    // when the body ends first or the nesting passes the bound. Brackets inside strings do not count.
    private static int EndOfContainer(ReadOnlySpan<byte> body, int open, int maxDepth)
    {
        var depth = 0;
        for (var i = open; i < body.Length; i++)
        {
            var b = body[i];
            if (b == (byte)'"')
            {
                i = EndOfString(body, i);
                if (i < 0) return -1;
            }
            else if (b is (byte)'{' or (byte)'[')
            {
                if (++depth > maxDepth) return -1;
            }
            else if (b is (byte)'}' or (byte)']' && --depth == 0)
            {
                return i + 1;
            }
        }
        return -1;
    }

    // The index of the quote that closes the string opened at open, or -1.
    private static int EndOfString(ReadOnlySpan<byte> body, int open)
    {
        var i = open + 1;
        while (i < body.Length)
        {
            var next = body[i..].IndexOfAny((byte)'"', (byte)'\\');
            if (next < 0) return -1;
            i += next;
            if (body[i] == (byte)'"') return i;
            i += 2; // a backslash and the character it escapes
        }
        return -1;
    }

    // Just past a number or literal: it runs to the next separator or whitespace.
    private static int EndOfScalar(ReadOnlySpan<byte> body, int start)
    {
        var i = start;
        while (i < body.Length && body[i] is not ((byte)',' or (byte)']' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')) i++;
        return i;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> body, int i)
    {
        while (i < body.Length && body[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') i++;
        return i;
    }

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
