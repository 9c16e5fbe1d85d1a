namespace FeedbackLoop.Contracts.Tests;

/// <summary>The one backoff as a table, including the five settings its callers use.</summary>
public sealed class BackoffTests
{
    [Theory]
    // initial ms, max ms, jitter, retry, random, expected ms
    [InlineData(100, 5_000, BackoffJitter.None, 0, 0.0, 100)] // the first wait is the initial one
    [InlineData(100, 5_000, BackoffJitter.None, 1, 0.0, 200)] // then it doubles
    [InlineData(100, 5_000, BackoffJitter.None, 5, 0.0, 3_200)]
    [InlineData(100, 5_000, BackoffJitter.None, 6, 0.0, 5_000)] // capped
    [InlineData(100, 5_000, BackoffJitter.None, int.MaxValue, 0.0, 5_000)] // no overflow however many retries
    [InlineData(100, 5_000, BackoffJitter.None, -3, 0.0, 100)] // a negative count is the first retry
    [InlineData(100, 5_000, BackoffJitter.None, 2, 0.7, 400)] // no jitter ignores the random number
    [InlineData(200, 30_000, BackoffJitter.Full, 0, 0.5, 100)] // full jitter: a share of the step
    [InlineData(200, 30_000, BackoffJitter.Full, 0, 0.0, 0)] // down to zero
    [InlineData(200, 30_000, BackoffJitter.Full, 10, 0.5, 15_000)] // the cap applies before the jitter
    [InlineData(200, 30_000, BackoffJitter.Full, 1, 7.0, 400)] // a random number out of range is clamped
    [InlineData(500, 30_000, BackoffJitter.Equal, 0, 0.0, 250)] // equal jitter: half the step at least
    [InlineData(500, 30_000, BackoffJitter.Equal, 3, 0.0, 2_000)]
    [InlineData(500, 30_000, BackoffJitter.Equal, 100, 0.5, 22_500)]
    [InlineData(30_000, 3_600_000, BackoffJitter.None, 7, 0.0, 3_600_000)] // a job retry's wait, capped at an hour
    [InlineData(0, 1_000, BackoffJitter.None, 4, 0.0, 0)] // a zero initial wait stays zero
    public void Delay(int initialMs, int maxMs, BackoffJitter jitter, int retry, double random, int expectedMs)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(initialMs), TimeSpan.FromMilliseconds(maxMs), jitter);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), backoff.Delay(retry, random));
    }

    [Theory]
    [InlineData(BackoffJitter.Full)]
    [InlineData(BackoffJitter.Equal)]
    public void A_jittered_wait_never_exceeds_its_step(BackoffJitter jitter)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), jitter);

        for (var retry = 0; retry < 12; retry++)
        {
            Assert.InRange(backoff.Delay(retry, Math.BitDecrement(1.0)), TimeSpan.Zero, backoff.Step(retry));
        }
    }
}
