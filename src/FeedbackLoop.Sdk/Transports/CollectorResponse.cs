using System.Net.Http.Headers;

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
}
