using System.Globalization;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>How times are written as column text and read back: one format for every table.</summary>
internal static class StoreText
{
    // Fixed width with seven fractional digits, so text order is time order in any database.
    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTimestamp(string text) =>
        DateTimeOffset.ParseExact(text, TimestampFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
