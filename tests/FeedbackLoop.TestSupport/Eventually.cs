using System.Diagnostics;

namespace FeedbackLoop.TestSupport;

/// <summary>
/// Waits for a condition that another thread or process makes true, with a deadline: the way tests synchronise with
/// brokers, subprocesses and background loops instead of sleeping for a guessed duration. The one polling loop of the
/// test projects; an absence is proven by state (a later event was handled, a counter, a store row), never by waiting.
/// </summary>
public static class Eventually
{
    /// <summary>The deadline of <see cref="HoldsAsync"/> when none is given.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    // Short enough that a met condition is noticed quickly, long enough not to steal one of the two cores.
    private static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Polls <paramref name="condition"/> until it returns true or <paramref name="timeout"/> elapses; the condition is
    /// always checked at least once.
    /// </summary>
    /// <returns>True as soon as the condition holds; false if it still did not hold at the deadline.</returns>
    public static Task<bool> TrueAsync(Func<bool> condition, TimeSpan timeout, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return TrueAsync(() => Task.FromResult(condition()), timeout, pollInterval);
    }

    /// <summary>
    /// Polls an asynchronous <paramref name="condition"/> (a broker query, say) until it returns true or
    /// <paramref name="timeout"/> elapses; the condition is always checked at least once.
    /// </summary>
    /// <returns>True as soon as the condition holds; false if it still did not hold at the deadline.</returns>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (clock.Elapsed >= timeout)
            {
                return false;
            }

            await Task.Delay(pollInterval ?? DefaultPollInterval);
        }
    }

    /// <summary>
    /// Polls <paramref name="condition"/> until it returns true; throws (failing the test) if it did not hold within
    /// <paramref name="timeout"/> (<see cref="DefaultTimeout"/> by default).
    /// </summary>
    /// <exception cref="TimeoutException">The condition did not hold before the deadline; the message says what was awaited.</exception>
    public static async Task HoldsAsync(Func<bool> condition, TimeSpan? timeout = null, string? what = null, TimeSpan? pollInterval = null)
    {
        var deadline = timeout ?? DefaultTimeout;
        if (!await TrueAsync(condition, deadline, pollInterval))
        {
            throw new TimeoutException($"{what ?? "the condition"} did not hold within {deadline.TotalSeconds:0.###} s");
        }
    }
}
