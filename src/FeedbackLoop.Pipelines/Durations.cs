using System.Globalization;
using FeedbackLoop.Core;
using System.Text.RegularExpressions;

namespace FeedbackLoop.Pipelines;

/// <summary>Durations as pipelines files and the CLI write them: a number and a unit, <c>500ms</c>, <c>90s</c>, <c>5m</c>, <c>1.5h</c>.</summary>
public static partial class Durations
{
    /// <summary>Reads <paramref name="text"/>; false when it is not a number followed by ms, s, m or h.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is null || Pattern().Match(text) is not { Success: true } match
            || !double.TryParse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        duration = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(amount),
            "s" => TimeSpan.FromSeconds(amount),
            "m" => TimeSpan.FromMinutes(amount),
            _ => TimeSpan.FromHours(amount),
        };
        return true;
    }

    /// <summary>The duration in the same notation, in the largest unit that keeps it exact enough to read.</summary>
    public static string Format(TimeSpan duration) => DurationText.Format(duration);

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")]
    private static partial Regex Pattern();
}
