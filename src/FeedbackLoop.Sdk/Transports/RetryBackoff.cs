using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>
/// The pure retry decision: the shared <see cref="Backoff"/> with full jitter, never shorter than what the destination
/// asked for, within the time budget.
/// </summary>
internal static class RetryBackoff
{
    /// <summary>
    /// How long to wait before retry number <paramref name="retry"/> (0 for the first), or null to give up
    /// because the wait would end past <see cref="RetryOptions.TimeBudget"/> since the first try.
    /// </summary>
    /// <param name="options">Backoff bounds and budget.</param>
    /// <param name="retry">How many retries were already made.</param>
    /// <param name="retryAfter">What the destination asked for (HTTP <c>Retry-After</c>), if anything.</param>
    /// <param name="elapsed">Time since the first try began.</param>
    /// <param name="random">A uniform number in [0, 1): the jitter.</param>
    public static TimeSpan? NextDelay(RetryOptions options, int retry, TimeSpan? retryAfter, TimeSpan elapsed, double random)
    {
        var jittered = new Backoff(options.InitialBackoff, options.MaxBackoff, BackoffJitter.Full).Delay(retry, random);
        var delay = retryAfter is { } asked && asked > jittered ? asked : jittered;
        return elapsed + delay <= options.TimeBudget ? delay : null;
    }
}
