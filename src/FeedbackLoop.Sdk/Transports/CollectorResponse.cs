using System.Net.Http.Headers;
using System.Text.Json;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>What a collector's HTTP status means for the events of the request.</summary>
internal enum CollectorVerdict
{
    /// <summary>The events were accepted.</summary>
    Delivered,
    /// <summary>A transient fault: the same events may be sent again later.</summary>
    Retryable,
    /// <summary>The events were refused for good; sending them again cannot help.</summary>
    Refused,
}

/// <summary>The pure reading of a collector's answer: status class and <c>Retry-After</c>.</summary>
internal static class CollectorResponse
{
    /// <summary>
    /// 2xx delivered; 408, 429 and 5xx but 501/505 retryable; 413, other 4xx, 501 and 505 refused.
    /// </summary>
    public static CollectorVerdict Classify(int status) => status switch
    {
        >= 200 and <= 299 => CollectorVerdict.Delivered,
        408 or 429 => CollectorVerdict.Retryable,
        // Not Implemented and HTTP Version Not Supported describe the server, not a passing state.
        501 or 505 => CollectorVerdict.Refused,
        >= 500 and <= 599 => CollectorVerdict.Retryable,
        >= 400 and <= 499 => CollectorVerdict.Refused,
        // Redirects are not followed (a redirected POST may turn into a GET) and anything else is not an
        // answer about the events: the endpoint is wrong or moved, which an operator can fix, so the events
        // stay retryable (and in the spool) rather than being thrown away.
        _ => CollectorVerdict.Retryable,
    };

    /// <summary>
    /// The wait a <c>Retry-After</c> header asks for: its delta-seconds, or the time until its HTTP-date
    /// (zero when that is past); null without the header.
    /// </summary>
    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date) return date > now ? date - now : TimeSpan.Zero;
        return null;
    }

    /// <summary>The most of a 200's body read: a batch's answer lists at most one entry per event sent.</summary>
    public const int MaxAnswerBytes = 4 * 1024 * 1024;

    /// <summary>No event refused.</summary>
    public static readonly IReadOnlySet<int> NoneRejected = new HashSet<int>();

    /// <summary>
    /// Which of the <paramref name="sent"/> events (their index in the request) a collector's 200 answer
    /// (<c>{"accepted": n, "rejected": [{"index", …}]}</c>) refused one by one; indexes out of range are ignored. An
    /// answer without that shape (an empty body, another collector) refuses none.
    /// </summary>
    public static IReadOnlySet<int> RejectedIndexes(ReadOnlySpan<byte> answer, int sent)
    {
        if (answer.IsEmpty) return NoneRejected;
        try
        {
            var reader = new Utf8JsonReader(answer);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return NoneRejected;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isRejected = reader.ValueTextEquals("rejected"u8);
                reader.Read();
                if (!isRejected || reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }
                var seen = new HashSet<int>();
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isIndex = reader.ValueTextEquals("index"u8);
                        reader.Read();
                        if (isIndex && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var index) && index >= 0 && index < sent) seen.Add(index);
                        else reader.Skip();
                    }
                }
                return seen;
            }
        }
        catch (JsonException)
        {
            // A body cut at MaxAnswerBytes or not JSON: no event is counted as refused.
        }
        return NoneRejected;
    }
}
