namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Event-time arithmetic that cannot throw. Event times come from clients; even with
/// <see cref="EventTimeCheck"/> in front, a window end or lateness bound near <see cref="DateTimeOffset.MaxValue"/>
/// must not throw <see cref="ArgumentOutOfRangeException"/>, because one throwing event would stop the loop
/// and, holding the commit, stop it again after every restart (issue 10, finding 1).
/// </summary>
internal static class SaturatingTime
{
    /// <summary><paramref name="at"/> + <paramref name="span"/> in UTC, clamped to [MinValue, MaxValue].</summary>
    public static DateTimeOffset Add(DateTimeOffset at, TimeSpan span)
    {
        var ticks = at.UtcTicks;
        var delta = span.Ticks;
        // Compared against the room left on each side (never delta itself negated: -TimeSpan.MinValue overflows).
        if (delta > DateTimeOffset.MaxValue.UtcTicks - ticks) return DateTimeOffset.MaxValue;
        if (delta < DateTimeOffset.MinValue.UtcTicks - ticks) return DateTimeOffset.MinValue;
        return new DateTimeOffset(ticks + delta, TimeSpan.Zero);
    }

    /// <summary><paramref name="later"/> − <paramref name="earlier"/>; both lie in DateTimeOffset's range, so the
    /// difference fits a TimeSpan (about ±10,000 years against TimeSpan's ±29,000) and never overflows.</summary>
    public static TimeSpan Between(DateTimeOffset later, DateTimeOffset earlier) => TimeSpan.FromTicks(later.UtcTicks - earlier.UtcTicks);
}
