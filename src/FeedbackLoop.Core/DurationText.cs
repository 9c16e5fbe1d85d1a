using System.Globalization;

namespace FeedbackLoop.Core;

/// <summary>
/// Durations as pipelines write them (<c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1.5h</c>): the one formatter for reasons,
/// logs and the pipeline reader's messages, so what the loop prints can be pasted back into a pipeline file.
/// </summary>
public static class DurationText
{
    /// <summary>The duration in the largest unit that keeps it exact enough to read.</summary>
    public static string Format(TimeSpan duration) => duration switch
    {
        _ when duration.TotalHours >= 1 && duration.TotalHours % 1 == 0 => Invariant(duration.TotalHours, "h"),
        _ when duration.TotalMinutes >= 1 && duration.TotalMinutes % 1 == 0 => Invariant(duration.TotalMinutes, "m"),
        _ when duration.TotalSeconds >= 1 => Invariant(duration.TotalSeconds, "s"),
        _ => Invariant(duration.TotalMilliseconds, "ms"),
    };

    private static string Invariant(double amount, string unit) => amount.ToString("0.###", CultureInfo.InvariantCulture) + unit;
}
