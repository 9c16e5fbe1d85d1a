using FeedbackLoop.Sdk.Transports;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>The retry delay as a table: backoff, jitter, Retry-After and the time budget.</summary>
public sealed class RetryBackoffTests
{
    // The defaults: 200 ms first backoff, 30 s longest, 2 min budget.
    private static readonly RetryOptions Defaults = new();

    [Theory]
    // retry, Retry-After ms (-1: none), elapsed ms, random, expected ms (-1: give up)
    [InlineData(0, -1, 0, 0.5, 100)] // half of the first backoff
    [InlineData(1, -1, 0, 0.5, 200)] // doubles per retry
    [InlineData(3, -1, 0, 0.5, 800)]
    [InlineData(0, -1, 0, 0.0, 0)] // full jitter reaches down to zero
    [InlineData(10, -1, 0, 0.5, 15_000)] // 200 ms · 2^10 is capped at 30 s
    [InlineData(1_000, -1, 0, 0.5, 15_000)] // no overflow however many retries
    [InlineData(2, 5_000, 0, 0.5, 5_000)] // never shorter than Retry-After
    [InlineData(2, 100, 0, 0.5, 400)] // Retry-After is a floor, not the delay
    [InlineData(0, 60_000, 0, 0.5, 60_000)] // Retry-After above the longest backoff is still honoured
    [InlineData(5, -1, 116_800, 0.5, 3_200)] // ends exactly at the budget: allowed
    [InlineData(5, -1, 116_801, 0.5, -1)] // would end past the budget: give up
    [InlineData(0, 200_000, 0, 0.5, -1)] // asked to wait beyond the budget: give up now
    [InlineData(0, -1, 120_000, 0.0, 0)] // a zero wait at the budget's end is still inside it
    [InlineData(0, -1, 120_001, 0.0, -1)]
    public void Next_delay(int retry, int retryAfterMs, int elapsedMs, double random, int expectedMs)
    {
        var delay = RetryBackoff.NextDelay(
            Defaults, retry, retryAfterMs < 0 ? null : TimeSpan.FromMilliseconds(retryAfterMs), TimeSpan.FromMilliseconds(elapsedMs), random);

        Assert.Equal(expectedMs < 0 ? null : TimeSpan.FromMilliseconds(expectedMs), delay);
    }

    [Theory]
    [InlineData(0, 200)]
    [InlineData(4, 3_200)]
    [InlineData(20, 30_000)]
    public void The_jitter_stays_below_the_backoff_ceiling(int retry, int ceilingMs)
    {
        var delay = RetryBackoff.NextDelay(Defaults, retry, null, TimeSpan.Zero, Math.BitDecrement(1.0));

        Assert.NotNull(delay);
        Assert.InRange(delay.Value, TimeSpan.FromMilliseconds(ceilingMs) * 0.999, TimeSpan.FromMilliseconds(ceilingMs));
    }
}
