using System.Diagnostics;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>
/// The demo's simulated time, for the store: rounds of traffic lie three simulated minutes apart while the process takes
/// seconds for each, so a rollout's start, its age and the engagement windows it counts must all be read on the same
/// clock as the events. The demo moves it to each round's start; between moves it runs on with real time, at most up to
/// <see cref="MaxDrift"/> past the round's start, so stamps stay ordered but never reach into the next round's windows.
/// </summary>
internal sealed class DemoClock(DateTimeOffset start) : TimeProvider
{
    /// <summary>How far past the round's start the clock may run before the demo moves it (a round lies three minutes after the last).</summary>
    public static readonly TimeSpan MaxDrift = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private DateTimeOffset _roundStart = start;
    private long _movedAt = Stopwatch.GetTimestamp();

    /// <summary>Moves the clock to <paramref name="at"/> (never backwards).</summary>
    public void MoveTo(DateTimeOffset at)
    {
        lock (_lock)
        {
            if (at > _roundStart) _roundStart = at;
            _movedAt = Stopwatch.GetTimestamp();
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            var ran = Stopwatch.GetElapsedTime(_movedAt);
            return _roundStart + (ran < MaxDrift ? ran : MaxDrift);
        }
    }
}
