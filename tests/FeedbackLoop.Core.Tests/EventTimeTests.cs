using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Event time from clients (issue 10, finding 1): implausible <c>occurred_at</c> values are refused by
/// <see cref="EventTimeCheck"/>, and whatever gets past it cannot make window or watermark arithmetic throw.
/// </summary>
public sealed class EventTimeTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>record timestamp (null: none), clock, the reference the check must use.</summary>
    public static TheoryData<DateTimeOffset?, DateTimeOffset, DateTimeOffset> References() => new()
    {
        { Now.AddDays(-3), Now, Now.AddDays(-3) },        // a replay judges by the record's time, not today's
        { Now, Now, Now },
        { Now.AddYears(100), Now, Now },                  // a forged CreateTime ahead of the clock is not trusted
        { null, Now, Now },                               // no timestamp: the clock
    };

    [Theory]
    [MemberData(nameof(References))]
    public void The_reference_is_the_record_time_bounded_by_the_clock(DateTimeOffset? record, DateTimeOffset clock, DateTimeOffset expected) =>
        Assert.Equal(expected, EventTimeCheck.Reference(record, clock));

    /// <summary>occurred_at relative to the reference, the horizon (null: off), the reason or null when accepted.</summary>
    public static TheoryData<string, TimeSpan?, string?> Checks() => new()
    {
        { "00:00:00", null, null },
        { "00:05:00", null, null },                               // exactly the default skew
        { "00:05:01", null, EventTimeCheck.TooFarAheadReason },
        { "max", null, EventTimeCheck.TooFarAheadReason },         // 9999-12-31T23:59:59.9999999Z
        { "-3650.00:00:00", null, null },                          // no horizon by default
        { "min", null, null },
        { "-30.00:00:00", TimeSpan.FromDays(30), null },           // exactly the horizon
        { "-30.00:00:01", TimeSpan.FromDays(30), EventTimeCheck.TooOldReason },
        { "min", TimeSpan.FromDays(30), EventTimeCheck.TooOldReason },
    };

    [Theory]
    [MemberData(nameof(Checks))]
    public void Occurred_at_outside_the_skew_or_horizon_is_refused_with_a_fixed_reason(string offset, TimeSpan? horizon, string? reason)
    {
        var occurredAt = offset switch
        {
            "max" => DateTimeOffset.MaxValue,
            "min" => DateTimeOffset.MinValue,
            _ => Now + TimeSpan.Parse(offset, System.Globalization.CultureInfo.InvariantCulture),
        };
        var rejection = EventTimeCheck.Check(occurredAt, Now, new ExtractionSettings { MaxEventAge = horizon });
        Assert.Equal(reason, rejection?.Reason);
        if (rejection is not null)
        {
            Assert.Equal("occurred_at", rejection.Field);
            Assert.Equal(EventRejectionKind.EventTimeOutOfRange, rejection.Kind);
        }
    }

    [Fact]
    public void A_reference_at_the_end_of_time_does_not_overflow_the_check() =>
        Assert.Null(EventTimeCheck.Check(DateTimeOffset.MaxValue, DateTimeOffset.MaxValue, new ExtractionSettings { MaxEventAge = TimeSpan.FromDays(30) }));

    /// <summary>start, span, expected sum (saturated at the ends of DateTimeOffset's range).</summary>
    public static TheoryData<DateTimeOffset, TimeSpan, DateTimeOffset> Sums() => new()
    {
        { Now, TimeSpan.FromMinutes(1), Now.AddMinutes(1) },
        { Now, TimeSpan.FromMinutes(-1), Now.AddMinutes(-1) },
        { new DateTimeOffset(9999, 12, 31, 23, 59, 0, TimeSpan.Zero), TimeSpan.FromMinutes(1), DateTimeOffset.MaxValue },
        { DateTimeOffset.MaxValue, TimeSpan.MaxValue, DateTimeOffset.MaxValue },
        { DateTimeOffset.MinValue, TimeSpan.FromMinutes(-1), DateTimeOffset.MinValue },
        { DateTimeOffset.MinValue, TimeSpan.MinValue, DateTimeOffset.MinValue },
        { DateTimeOffset.MaxValue, TimeSpan.FromTicks(-1), DateTimeOffset.MaxValue.AddTicks(-1) },
    };

    [Theory]
    [MemberData(nameof(Sums))]
    public void Window_arithmetic_saturates_instead_of_throwing(DateTimeOffset start, TimeSpan span, DateTimeOffset expected) =>
        Assert.Equal(expected, SaturatingTime.Add(start, span));

    [Fact]
    public void An_event_at_the_end_of_time_that_gets_past_the_check_does_not_crash_the_extractor()
    {
        // The reported attack: a shown event at 9999-12-31T23:59:30Z overflowed the window end. With the
        // arithmetic saturating, extraction goes on and other sessions still produce their rows (on another
        // partition: one future event still moves its own partition's watermark, finding 3, which is open).
        var extractor = new Extractor();
        new SessionScript(sessionId: "hostile", start: new DateTimeOffset(9999, 12, 31, 23, 59, 30, TimeSpan.Zero))
            .Shown("x").ThumbUp("x").Feed(extractor);
        new SessionScript(sessionId: "s1", start: DateTimeOffset.MaxValue.AddSeconds(-1)).Shown("y").Feed(extractor, firstOffset: 10);
        new SessionScript(sessionId: "s2").Shown("a").Shown("b").ThumbUp("a").ThumbDown("b").Ended().Feed(extractor, partition: 1);
        extractor.Sweep();
        extractor.ResolveAll();

        Assert.Single(extractor.Output.Pairs, p => p.SessionId == "s2");
        Assert.Contains(extractor.Output.Windows, w => w.WindowStart.Year == 9999 && w.WindowEnd == DateTimeOffset.MaxValue);
    }
}
