using System.Diagnostics;

namespace FeedbackLoop.Sdk.Tests.Spool;

/// <summary>
/// Waits for a condition that the spool's pump makes true, with a deadline, instead of sleeping for a
/// guessed duration (the same pattern as the integration tests' helper).
/// </summary>
internal static class Eventually
{
    // Short enough that a met condition is noticed quickly, long enough not to steal one of the two cores.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>True as soon as <paramref name="condition"/> holds; false if it still does not at the deadline.</summary>
    public static async Task<bool> TrueAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (condition()) return true;
            if (clock.Elapsed >= limit) return false;
            await Task.Delay(PollInterval);
        }
    }
}
