namespace FeedbackLoop.Contracts;

/// <summary>How a <see cref="Backoff"/> spreads its waits so that many clients failing together do not retry together.</summary>
public enum BackoffJitter
{
    /// <summary>The exponential step itself: for one process retrying its own work (a job, a report, a restart).</summary>
    None,

    /// <summary>"Full jitter": anywhere in [0, step). The most spread; for many senders hitting one destination.</summary>
    Full,

    /// <summary>"Equal jitter": in [step/2, step). Spread, but never much shorter than the step.</summary>
    Equal,
}

/// <summary>
/// The one backoff of FeedbackLoop, used by the SDK's retries, its spool and sender restarts, the job retries and the
/// worker's report retries: <see cref="Initial"/> · 2^retry, capped at <see cref="Max"/>, then jittered. It is a pure
/// function; the random number comes in as an argument so callers (and tests) choose its source. It lives in the
/// contracts because that is the one assembly both the SDK and the orchestration reference.
/// </summary>
/// <param name="Initial">The wait before the first retry (retry 0), before jitter.</param>
/// <param name="Max">The longest step; the step stops doubling here.</param>
/// <param name="Jitter">How the step is spread.</param>
public readonly record struct Backoff(TimeSpan Initial, TimeSpan Max, BackoffJitter Jitter = BackoffJitter.None)
{
    /// <summary>The un-jittered wait before retry <paramref name="retry"/> (0 for the first): Initial · 2^retry, at most Max.</summary>
    /// <param name="retry">How many retries were already made; negative counts as 0.</param>
    public TimeSpan Step(int retry)
    {
        // In doubles with a clamped exponent, so that Initial·2^retry cannot overflow however many retries were made.
        var ticks = Math.Min(Max.Ticks, Initial.Ticks * Math.Pow(2, Math.Clamp(retry, 0, 62)));
        return TimeSpan.FromTicks((long)Math.Max(ticks, 0));
    }

    /// <summary>The wait before retry <paramref name="retry"/> (0 for the first), with <see cref="Jitter"/> applied.</summary>
    /// <param name="retry">How many retries were already made; negative counts as 0.</param>
    /// <param name="random">A uniform number in [0, 1) (clamped to [0, 1]); ignored without jitter.</param>
    public TimeSpan Delay(int retry, double random = 0)
    {
        var step = Step(retry);
        var factor = Jitter switch
        {
            BackoffJitter.None => 1.0,
            BackoffJitter.Full => Math.Clamp(random, 0, 1),
            BackoffJitter.Equal => 0.5 + (Math.Clamp(random, 0, 1) / 2),
            _ => throw new InvalidOperationException($"unknown jitter {Jitter}"),
        };
        // Truncated to a whole tick, so a jittered wait never exceeds its step.
        return TimeSpan.FromTicks((long)(step.Ticks * factor));
    }
}
