using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// How long the spool waits before it offers undelivered events to the transport again: the shared
/// <see cref="Backoff"/>, exponential from
/// <see cref="Initial"/>, capped at <see cref="Max"/>, with "equal jitter" (the wait lies between half and
/// all of the exponential step) so many apps coming back after one outage do not retry in lockstep, and
/// at least what the destination asked for in <c>Retry-After</c> (within the cap).
/// </summary>
internal static class SpoolBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    private static readonly Backoff Steps = new(Initial, Max, BackoffJitter.Equal);

    /// <summary>The wait after failure number <paramref name="attempt"/> (0 for the first); <paramref name="jitter"/> lies in [0, 1).</summary>
    public static TimeSpan Delay(int attempt, TimeSpan? retryAfter, double jitter)
    {
        var delay = Steps.Delay(attempt, jitter);
        if (retryAfter is { } asked && asked > delay) delay = asked;
        return delay > Max ? Max : delay;
    }
}
