using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>When sessions resolve, and that their state (and the offsets it pins) goes with them.</summary>
public sealed class SessionResolutionTests
{
    private static readonly TimeSpan ThirtyMinutes = TimeSpan.FromMinutes(30);

    [Fact]
    public void Session_ended_resolves_the_session_and_drops_its_state()
    {
        var extractor = new SessionScript().Shown("g1").ThumbUp("g1").Run();
        Assert.Equal(1, extractor.OpenSessions);

        new SessionScript(eventIds: "s1-later").Ended().Feed(extractor, firstOffset: 2);

        Assert.Equal(0, extractor.OpenSessions);
        Assert.Equal(1, extractor.Counters.SessionsEnded);
        Assert.Single(extractor.Output.Labels);
    }

    [Fact]
    public void Open_sessions_count_every_partition_and_forget_a_dropped_one()
    {
        var extractor = new Extractor();
        new SessionScript("a").Shown("g1").Feed(extractor, partition: 0);
        new SessionScript("b").Shown("g2").Feed(extractor, partition: 1);
        new SessionScript("c").Shown("g3").Feed(extractor, partition: 1);
        Assert.Equal(3, extractor.OpenSessions);

        extractor.DropPartition(1);
        Assert.Equal(1, extractor.OpenSessions);

        extractor.ResolveAll();
        Assert.Equal(0, extractor.OpenSessions);
    }

    [Fact]
    public void Idle_session_resolves_on_sweep_once_the_partition_watermark_is_past_thirty_minutes()
    {
        var extractor = new SessionScript("idle").Shown("g1").ThumbUp("g1").Run();
        var lastEvent = SessionScript.T0.AddSeconds(1);

        new SessionScript("busy", start: lastEvent + ThirtyMinutes).Shown("g2").Feed(extractor, firstOffset: 2);
        extractor.Sweep();

        Assert.Empty(extractor.Output.Labels);
        Assert.Equal(2, extractor.OpenSessions);

        new SessionScript("busy", start: lastEvent + ThirtyMinutes + TimeSpan.FromSeconds(1), eventIds: "busy-later").Dwelled("g2", 10).Feed(extractor, firstOffset: 3);
        extractor.Sweep();

        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
        Assert.Equal(1, extractor.Counters.SessionsTimedOut);
        Assert.Equal(1, extractor.OpenSessions);
    }

    [Fact]
    public void Another_partition_does_not_move_this_partitions_watermark()
    {
        var extractor = new SessionScript("idle").Shown("g1").ThumbUp("g1").Run();

        new SessionScript("elsewhere", start: SessionScript.T0.AddHours(2)).Shown("g2").Feed(extractor, partition: 1);
        extractor.Sweep();

        Assert.Empty(extractor.Output.Labels);
        Assert.Equal(0, extractor.Counters.SessionsTimedOut);
    }

    [Fact]
    public void Event_after_a_thirty_minute_gap_starts_a_new_session_whatever_else_the_partition_carries()
    {
        // The same session, alone on its partition and interleaved with another session's traffic, must
        // resolve the same way: the timeout is about event time, not about what else was consumed.
        static SessionScript Gapped() => new SessionScript()
            .Shown("g1").ThumbDown("g1").After(ThirtyMinutes + TimeSpan.FromMinutes(1)).Shown("g2").ThumbUp("g2");

        var alone = Gapped().Run();
        Assert.Equal(1, alone.Counters.SessionsTimedOut);
        Assert.Equal(["g1 u1 False"], Rows.LabelsOf(alone));

        var interleaved = new Extractor();
        var events = Gapped().Events;
        interleaved.Process(0, 0, events[0]);
        interleaved.Process(0, 1, events[1]);
        new SessionScript("other", start: events[2].OccurredAt).Ended().Feed(interleaved, firstOffset: 2);
        interleaved.Process(0, 3, events[2]);
        interleaved.Process(0, 4, events[3]);

        Assert.Equal(Rows.LabelsOf(alone), Rows.LabelsOf(interleaved));
        Assert.Equal(1, interleaved.Counters.SessionsTimedOut);

        alone.ResolveAll();
        interleaved.ResolveAll();
        Assert.Equal(Rows.Sorted("g1 u1 False", "g2 u1 True"), Rows.LabelsOf(alone));
        Assert.Equal(Rows.LabelsOf(alone), Rows.LabelsOf(interleaved));
    }

    [Fact]
    public void Events_within_thirty_minutes_keep_the_session_open()
    {
        var extractor = new SessionScript()
            .Shown("g1").After(ThirtyMinutes - TimeSpan.FromSeconds(2)).ThumbUp("g1")
            .After(ThirtyMinutes - TimeSpan.FromSeconds(2)).Copied("g1")
            .Run();
        extractor.Sweep();

        Assert.Equal(1, extractor.OpenSessions);
        Assert.Equal(0, extractor.Counters.SessionsTimedOut);
    }

    [Fact]
    public void A_thousand_ended_sessions_leave_no_open_state()
    {
        var extractor = new Extractor();
        var offsets = new long[4];
        for (var i = 0; i < 1000; i++)
        {
            var partition = i % 4;
            var script = new SessionScript($"s{i}", userId: $"u{i}").Shown($"g{i}").ThumbUp($"g{i}").Ended();
            script.Feed(extractor, partition, offsets[partition]);
            offsets[partition] += script.Events.Count;
        }

        Assert.Equal(0, extractor.OpenSessions);
        Assert.Equal(1000, extractor.Counters.SessionsEnded);
        Assert.Equal(1000, extractor.Output.Labels.Count);

        extractor.ResolveAll();
        for (var p = 0; p < 4; p++) Assert.Equal(offsets[p], extractor.CommittableOffset(p, offsets[p]));
    }

    [Fact]
    public void Committable_offset_is_the_first_offset_still_needed_by_an_open_session_or_window()
    {
        var extractor = new Extractor();
        Assert.Equal(7, extractor.CommittableOffset(0, 7));

        // s1 (offsets 10–11) ends at once, but its shown event is in an open engagement window.
        new SessionScript("s1").Shown("g1").Ended().Feed(extractor, firstOffset: 10);
        // s2 (offset 12) stays open.
        new SessionScript("s2", start: SessionScript.T0.AddSeconds(2)).Shown("g2").Feed(extractor, firstOffset: 12);
        Assert.Equal(10, extractor.CommittableOffset(0, 13));
        Assert.Equal(5, extractor.CommittableOffset(0, 5));
        Assert.Equal(3, extractor.CommittableOffset(1, 3));

        // Three minutes later the first window is due; only s2 still pins its offset.
        new SessionScript("s3", start: SessionScript.T0.AddMinutes(3)).Ended().Feed(extractor, firstOffset: 13);
        extractor.Sweep();
        Assert.Equal(12, extractor.CommittableOffset(0, 14));

        new SessionScript("s2", start: SessionScript.T0.AddMinutes(3), eventIds: "s2-later").Ended().Feed(extractor, firstOffset: 14);
        Assert.Equal(15, extractor.CommittableOffset(0, 15));
        Assert.Equal(0, extractor.OpenSessions);
    }

    [Fact]
    public void Dropped_partition_forgets_its_state_and_a_replay_rebuilds_the_same_rows()
    {
        var script = new SessionScript().Shown("g1").ThumbUp("g1");
        var extractor = new Extractor();
        script.Feed(extractor, partition: 0, firstOffset: 20);
        new SessionScript("kept").Shown("g9").Feed(extractor, partition: 1);

        extractor.DropPartition(0);

        Assert.Equal(1, extractor.OpenSessions);
        Assert.Equal(30, extractor.CommittableOffset(0, 30));
        Assert.Equal(0, extractor.CommittableOffset(1, 1));

        // The next owner replays from the committed offset; the events are new to it, not duplicates.
        Assert.All(script.Feed(extractor, partition: 0, firstOffset: 20), o => Assert.Equal(ProcessOutcome.Processed, o));
        extractor.ResolveAll();
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
    }

    [Fact]
    public void Resolve_all_resolves_every_open_session_and_window()
    {
        var extractor = new SessionScript("a").Shown("g1").ThumbUp("g1").Run();
        new SessionScript("b").Shown("g2").Feed(extractor, partition: 3);

        extractor.ResolveAll();

        Assert.Equal(0, extractor.OpenSessions);
        Assert.Equal(0, extractor.OpenEngagementWindows);
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
    }

    [Fact]
    public void Sessions_past_the_partition_limit_are_resolved_least_recently_active_first()
    {
        var extractor = new Extractor(new ExtractionSettings { MaxOpenSessionsPerPartition = 2 });
        new SessionScript("s1").Shown("g1").ThumbUp("g1").Feed(extractor, firstOffset: 0);
        new SessionScript("s2", start: SessionScript.T0.AddMinutes(1)).Shown("g2").Feed(extractor, firstOffset: 2);
        new SessionScript("s3", start: SessionScript.T0.AddMinutes(2)).Shown("g3").Feed(extractor, firstOffset: 3);

        Assert.Equal(2, extractor.OpenSessions);
        Assert.Equal(1, extractor.Counters.SessionsEvictedAtCapacity);
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
    }
}
