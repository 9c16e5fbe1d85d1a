namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// How long the spool waits before it offers undelivered events to the transport again: exponential from
/// <see cref="Initial"/>, capped at <see cref="Max"/>, with "equal jitter" (the wait lies between half and
/// all of the exponential step) so many apps coming back after one outage do not retry in lockstep, and
/// at least what the destination asked for in <c>Retry-After</c> (within the cap).
/// </summary>
internal static class SpoolBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    /// <summary>The wait after failure number <paramref name="attempt"/> (0 for the first); <paramref name="jitter"/> lies in [0, 1).</summary>
    public static TimeSpan Delay(int attempt, TimeSpan? retryAfter, double jitter)
    {
        // 2^6 · 500 ms already passes the cap; clamping the exponent keeps the arithmetic finite.
        var step = Initial * Math.Pow(2, Math.Clamp(attempt, 0, 16));
        if (step > Max) step = Max;
        var delay = step * (0.5 + (Math.Clamp(jitter, 0, 1) / 2));
        if (retryAfter is { } asked && asked > delay) delay = asked;
        return delay > Max ? Max : delay;
    }
}
