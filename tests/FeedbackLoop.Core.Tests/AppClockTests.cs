using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Issue 10, finding 3: sessions expire and engagement windows close on their own app's clock, so one app's event
/// time (running ahead, or current while another app backfills) never ends another app's sessions or windows.
/// </summary>
public sealed class AppClockTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);
    private static readonly DateTimeOffset T = SessionScript.T0;

    public static TheoryData<DateTimeOffset, DateTimeOffset, TimeSpan, bool> ExpiryCases => new()
    {
        { T, T, Timeout, false },
        { T + Timeout, T, Timeout, false },
        { T + Timeout + TimeSpan.FromTicks(1), T, Timeout, true },
        { T.AddDays(300), T, Timeout, true },
        // The app's clock behind the session's latest event (events out of order): never expired.
        { T, T.AddHours(1), Timeout, false },
        { DateTimeOffset.MinValue, T, Timeout, false },
        // Saturating at both ends of the range instead of throwing.
        { DateTimeOffset.MaxValue, DateTimeOffset.MaxValue, Timeout, false },
        { DateTimeOffset.MaxValue, DateTimeOffset.MinValue, TimeSpan.FromDays(365.0 * 9_000), true },
        { DateTimeOffset.MaxValue, DateTimeOffset.MinValue, TimeSpan.MaxValue, false },
        { DateTimeOffset.MaxValue, DateTimeOffset.MaxValue.AddMinutes(-1), TimeSpan.MaxValue, false },
        { T, T, TimeSpan.Zero, false },
        { T.AddTicks(1), T, TimeSpan.Zero, true },
    };

    [Theory]
    [MemberData(nameof(ExpiryCases))]
    public void A_session_expires_when_its_apps_clock_is_more_than_the_timeout_past_its_latest_event(
        DateTimeOffset appWatermark, DateTimeOffset lastEventAt, TimeSpan timeout, bool expired)
    {
        Assert.Equal(expired, SessionExpiry.IsExpired(appWatermark, lastEventAt, timeout));
    }

    public static TheoryData<DateTimeOffset, DateTimeOffset?, TimeSpan, bool> IdleCases => new()
    {
        { T, null, Timeout, false },
        { T.AddDays(300), null, Timeout, false },
        { T, T, Timeout, false },
        { T + Timeout, T, Timeout, false },
        { T + Timeout + TimeSpan.FromTicks(1), T, Timeout, true },
        { T, T.AddHours(1), Timeout, false },
        { DateTimeOffset.MinValue, T, Timeout, false },
        { DateTimeOffset.MaxValue, DateTimeOffset.MaxValue, Timeout, false },
        { DateTimeOffset.MaxValue, DateTimeOffset.MinValue, TimeSpan.MaxValue, false },
    };

    [Theory]
    [MemberData(nameof(IdleCases))]
    public void A_session_is_idle_when_records_went_on_arriving_for_more_than_the_timeout_after_its_latest_record(
        DateTimeOffset recordClock, DateTimeOffset? lastRecordAt, TimeSpan timeout, bool idle)
    {
        Assert.Equal(idle, SessionExpiry.IsIdle(recordClock, lastRecordAt, timeout));
    }

    [Fact]
    public void A_quiet_apps_session_and_window_close_once_records_went_on_arriving_for_the_timeout()
    {
        // App A's clock never moves again after its last event; record time (the Kafka timestamps) bounds how long
        // its session and window hold state and the partition's commit.
        var recorded = T.AddDays(300);
        var extractor = new Extractor();
        var quiet = new SessionScript("s-a", appId: "app-a").Shown("g1").ThumbUp("g1");
        for (var i = 0; i < quiet.Events.Count; i++) extractor.Process(0, i, quiet.Events[i], recorded);
        var live = new SessionScript("s-b", appId: "app-b", start: recorded).Shown("gb").Events[0];

        extractor.Process(0, 2, live, recorded + Timeout);
        extractor.Sweep();
        Assert.Equal((0L, 2), (extractor.Counters.SessionsTimedOut, extractor.OpenSessions));
        Assert.Equal(0, extractor.CommittableOffset(0, 3));

        extractor.Process(0, 3, live with { EventId = "b-2", Data = new GenerationCopied("gb") }, recorded + Timeout + TimeSpan.FromSeconds(1));
        extractor.Sweep();
        Assert.Equal((1L, 1), (extractor.Counters.SessionsTimedOut, extractor.OpenSessions));
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(("app-a", 1L, 1L), (window.AppId, window.Shown, window.ThumbsUp));
        Assert.Equal(2, extractor.CommittableOffset(0, 4));
    }

    [Fact]
    public void Another_apps_clock_running_ahead_does_not_expire_a_session()
    {
        var extractor = new Extractor();
        var victim = new SessionScript("s-a", appId: "app-a").Shown("g1");
        victim.Feed(extractor);
        // Before per-app clocks, this one event moved the partition's watermark two hours on and the victim's next
        // event found its session expired: no label, the thumb unattributed.
        new SessionScript("s-b", appId: "app-b", start: T.AddHours(2)).Shown("gb").Feed(extractor, firstOffset: 1);
        victim.ThumbUp("g1");
        extractor.Process(0, 2, victim.Events[^1]);
        extractor.Sweep();

        Assert.Equal(0, extractor.Counters.SessionsTimedOut);
        Assert.Equal(2, extractor.OpenSessions);
        extractor.ResolveAll();
        Assert.Contains("g1 u1 True", Rows.LabelsOf(extractor));
        Assert.Equal(0, extractor.Counters.UnattributedEngagementEvents);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_backfill_interleaved_with_another_apps_current_traffic_yields_exactly_its_rows_alone(bool sweepAfterEachEvent)
    {
        var backfill = Backfill();
        var alone = Run(backfill, sweepAfterEachEvent);

        // App B's sessions are dated 300 days later (and its last event four minutes later still), interleaved record by record.
        var current = new SessionScript("b-1", appId: "app-b", start: T.AddDays(300)).Shown("b1").ThumbUp("b1").Events
            .Concat(new SessionScript("b-2", appId: "app-b", start: T.AddDays(300)).Shown("b2").ThumbDown("b2").Events)
            .Concat(new SessionScript("b-1", appId: "app-b", start: T.AddDays(300).AddMinutes(4), eventIds: "b-ahead").Copied("b1").Events).ToList();
        var interleaved = new List<FeedbackEvent>();
        for (var i = 0; i < Math.Max(backfill.Count, current.Count * 4); i++)
        {
            if (i < backfill.Count) interleaved.Add(backfill[i]);
            if (i % 4 == 0 && i / 4 < current.Count) interleaved.Add(current[i / 4]);
        }
        var mixed = Run(interleaved, sweepAfterEachEvent);

        Assert.Equal(Describe(alone, "app-a"), Describe(mixed, "app-a"));
        Assert.Equal(alone.Counters.SessionsTimedOut, mixed.Counters.SessionsTimedOut);
        Assert.Equal(0, mixed.Counters.LateEngagementEvents);
        // The backfill's own 31-minute gap still times its session out: expiry works, on the app's own clock.
        Assert.Equal(1, alone.Counters.SessionsTimedOut);
        Assert.NotEmpty(alone.Output.Pairs);
    }

    [Fact]
    public void Another_apps_clock_does_not_close_an_apps_engagement_window()
    {
        var extractor = new Extractor();
        var a = new SessionScript("s-a", appId: "app-a").Shown("g1");
        a.Feed(extractor);
        new SessionScript("s-b", appId: "app-b", start: T.AddMinutes(10)).Shown("gb").Feed(extractor, firstOffset: 1);
        extractor.Sweep();
        Assert.DoesNotContain(extractor.Output.Windows, w => w.AppId == "app-a");

        a.Copied("g1");
        extractor.Process(0, 2, a.Events[^1]);
        extractor.ResolveAll();

        Assert.Equal(0, extractor.Counters.LateEngagementEvents);
        var window = Assert.Single(extractor.Output.Windows, w => w.AppId == "app-a");
        Assert.Equal((1L, 1L), (window.Shown, window.Copied));
    }

    [Fact]
    public void An_apps_windows_still_close_on_its_own_clock()
    {
        var extractor = new Extractor();
        new SessionScript("s-a", appId: "app-a").Shown("g1").Feed(extractor);
        new SessionScript("s-a2", appId: "app-a", start: T.AddSeconds(121)).Ended().Feed(extractor, firstOffset: 1);
        extractor.Sweep();

        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(("app-a", 1L), (window.AppId, window.Shown));
    }

    [Fact]
    public void Past_the_cap_a_new_app_expires_on_the_shared_clock_and_each_event_is_counted()
    {
        var settings = new ExtractionSettings { MaxAppClocksPerPartition = 2 };
        var extractor = new Extractor(settings);
        long offset = 0;
        foreach (var app in new[] { "app-1", "app-2" })
            offset += new SessionScript("s-" + app, appId: app).Shown("g").Feed(extractor, firstOffset: offset).Count;

        var third = new SessionScript("s-3", appId: "app-3").Shown("g3");
        third.Feed(extractor, firstOffset: offset++);
        Assert.Equal(1, extractor.Counters.AppClocksOverCap);
        // A new session of app-1 two hours on moves the shared clock; app-3 has no clock of its own, so its session
        // expires on the shared one (the behaviour before per-app clocks), while app-2's does not.
        new SessionScript("s-1b", appId: "app-1", start: T.AddHours(2)).Shown("gx").Feed(extractor, firstOffset: offset++);
        third.ThumbUp("g3");
        extractor.Process(0, offset, third.Events[^1]);

        Assert.Equal(2, extractor.Counters.AppClocksOverCap);
        Assert.Equal(1, extractor.Counters.SessionsTimedOut);
        extractor.ResolveAll();
        Assert.DoesNotContain("g3 u1 True", Rows.LabelsOf(extractor));
    }

    [Fact]
    public void At_the_cap_an_idle_apps_clock_is_given_to_a_new_app()
    {
        var settings = new ExtractionSettings { MaxAppClocksPerPartition = 2 };
        var extractor = new Extractor(settings);
        long offset = 0;
        offset += new SessionScript("s-1", appId: "app-1").Shown("g").Ended().Feed(extractor, firstOffset: offset).Count;
        offset += new SessionScript("s-2", appId: "app-2").Shown("g").Feed(extractor, firstOffset: offset).Count;

        var third = new SessionScript("s-3", appId: "app-3").Shown("g3");
        third.Feed(extractor, firstOffset: offset++);
        new SessionScript("s-2", appId: "app-2", start: T.AddHours(2), eventIds: "late").Copied("g").Feed(extractor, firstOffset: offset++);
        third.ThumbUp("g3");
        extractor.Process(0, offset, third.Events[^1]);

        // app-1 had no open session, so app-3 took its slot: app-2's clock moving on expires app-2's session only.
        Assert.Equal(0, extractor.Counters.AppClocksOverCap);
        Assert.Equal(1, extractor.Counters.SessionsTimedOut);
        extractor.ResolveAll();
        Assert.Contains("g3 u1 True", Rows.LabelsOf(extractor));
    }

    /// <summary>App A's sessions, months in the past: pairs of every rule, labels, engagement, and one 31-minute gap.</summary>
    private static List<FeedbackEvent> Backfill() =>
    [
        .. new SessionScript("a-1", appId: "app-a").Shown("a1").Regenerated("a1", "a2").Shown("a2").ThumbUp("a2")
            .Edited("a2", "Answer a2, fixed").ThumbDown("a1").Ended().Events,
        .. new SessionScript("a-2", appId: "app-a", start: T.AddMinutes(5)).Shown("c1", candidateSet: "cs").Shown("c2", candidateSet: "cs")
            .Chose("cs", "c2").After(TimeSpan.FromMinutes(31)).Shown("c3").Copied("c3").Rated("c3", 5).Events,
        .. new SessionScript("a-3", appId: "app-a", start: T.AddMinutes(50)).Shown("d1").Dwelled("d1", 1200).ThumbUp("d1").Events,
    ];

    private static Extractor Run(List<FeedbackEvent> events, bool sweepAfterEachEvent)
    {
        var extractor = new Extractor();
        for (var offset = 0; offset < events.Count; offset++)
        {
            extractor.Process(0, offset, events[offset]);
            if (sweepAfterEachEvent) extractor.Sweep();
        }
        extractor.ResolveAll();
        return extractor;
    }

    private static string[] Describe(Extractor extractor, string appId) =>
    [
        .. extractor.Output.Pairs.Where(p => p.AppId == appId).Select(p => $"{Rows.Describe(p)} {p.PairId} {p.CreatedAt:O}").Order(StringComparer.Ordinal),
        .. extractor.Output.Labels.Where(l => l.AppId == appId).Select(l => $"{Rows.Describe(l)} {l.LabelId}").Order(StringComparer.Ordinal),
        .. extractor.Output.Windows.Where(w => w.AppId == appId).Select(Window).Order(StringComparer.Ordinal),
    ];

    private static string Window(EngagementWindow w) => w.ToString();
}
