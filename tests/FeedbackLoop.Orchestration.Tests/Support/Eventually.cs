using System.Diagnostics;

namespace FeedbackLoop.Orchestration.Tests.Support;

/// <summary>
/// Waits for a condition that another thread or process makes true, with a deadline: the way tests
/// synchronise with brokers and subprocesses instead of sleeping for a guessed duration.
/// </summary>
internal static class Eventually
{
    // Short enough that a met condition is noticed quickly, long enough not to steal one of the two cores.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Polls <paramref name="condition"/> until it returns true or <paramref name="timeout"/> elapses.
    /// </summary>
    /// <returns>True as soon as the condition holds; false if it still did not hold at the deadline.</returns>
    public static async Task<bool> TrueAsync(Func<bool> condition, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (condition())
            {
                return true;
            }

            if (clock.Elapsed >= timeout)
            {
                return false;
            }

            await Task.Delay(PollInterval);
        }
    }
}
