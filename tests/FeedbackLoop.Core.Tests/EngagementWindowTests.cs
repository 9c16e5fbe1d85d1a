using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>One-minute event-time windows per (app, model version, variant), closed by the watermark.</summary>
public sealed class EngagementWindowTests
{
    [Fact]
    public void Window_counts_every_kind_of_engagement_per_model_version_and_variant()
    {
        var extractor = new SessionScript()
            .Shown("a", candidateSet: "cs", model: "model-a", variant: "blue")
            .Shown("b", candidateSet: "cs", model: "model-a", variant: "blue")
            .ThumbUp("a").ThumbDown("b")
            .Chose("cs", "a")
            .Regenerated("b", "c")
            .Shown("c", model: "model-b")
            .Edited("a", "Paris!")
            .Copied("a").Accepted("a").Dismissed("b")
            .Dwelled("a", 100).Dwelled("b", 300).Dwelled("a", 200)
            .Ended()
            .RunToEnd();

        Assert.Equal(2, extractor.Output.Windows.Count);
        var blue = extractor.Output.Windows.Single(w => w.ModelVersion == "model-a");
        Assert.Equal(
            new EngagementWindow(blue.WindowId, "app", "model-a", "blue", SessionScript.T0, SessionScript.T0.AddMinutes(1),
                Shown: 2, ThumbsUp: 1, ThumbsDown: 1, Regenerated: 1, Edited: 1, Copied: 1, Accepted: 1, Rejected: 1,
                ComparisonsWon: 1, ComparisonsLost: 1, DwellSamples: 3, DwellP50Ms: 200, DwellP90Ms: 300, DwellP99Ms: 300, Partition: 0),
            blue);
        var plain = extractor.Output.Windows.Single(w => w.ModelVersion == "model-b");
        Assert.Equal(
            new EngagementWindow(plain.WindowId, "app", "model-b", "", SessionScript.T0, SessionScript.T0.AddMinutes(1),
                Shown: 1, ThumbsUp: 0, ThumbsDown: 0, Regenerated: 0, Edited: 0, Copied: 0, Accepted: 0, Rejected: 0,
                ComparisonsWon: 0, ComparisonsLost: 0, DwellSamples: 0, DwellP50Ms: null, DwellP90Ms: null, DwellP99Ms: null, Partition: 0),
            plain);
        Assert.NotEqual(blue.WindowId, plain.WindowId);
    }

    [Fact]
    public void Events_on_either_side_of_a_minute_boundary_fall_into_two_windows()
    {
        var extractor = new SessionScript()
            .At(TimeSpan.FromSeconds(59)).Shown("g1")
            .At(TimeSpan.FromSeconds(60)).Shown("g2")
            .RunToEnd();

        Assert.Equal(
            [(SessionScript.T0, 1L), (SessionScript.T0.AddMinutes(1), 1L)],
            extractor.Output.Windows.Select(w => (w.WindowStart, w.Shown)).ToArray());
    }

    [Fact]
    public void Dwell_percentiles_are_nearest_rank_over_the_window()
    {
        var script = new SessionScript().Shown("g1");
        foreach (var ms in Enumerable.Range(1, 100).Reverse()) script.Dwelled("g1", ms * 10);
        // 101 events at one per second span two windows: keep them in one by placing them at the start.
        var extractor = new Extractor();
        foreach (var (evt, offset) in script.Events.Select((e, i) => (e with { OccurredAt = SessionScript.T0 }, i)))
            extractor.Process(0, offset, evt);
        extractor.ResolveAll();

        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(100, window.DwellSamples);
        Assert.Equal((500.0, 900.0, 990.0), (window.DwellP50Ms, window.DwellP90Ms, window.DwellP99Ms));
    }

    public static TheoryData<long[], double, double?> PercentileCases => new()
    {
        { [], 0.5, null },
        { [7], 0.5, 7 },
        { [7], 0.99, 7 },
        { [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5, 5 },
        { [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9 },
        { [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99, 10 },
        { [10, 20], 0.5, 10 },
        { [10, 20], 0.51, 20 },
        { [10, 20, 30], 0.0, 10 },
        { [10, 20, 30], 1.0, 30 },
    };

    [Theory]
    [MemberData(nameof(PercentileCases))]
    public void Percentile_is_the_nearest_rank_of_sorted_values(long[] sorted, double quantile, double? expected)
    {
        Assert.Equal(expected, EngagementAggregator.Percentile([.. sorted], quantile));
    }

    [Fact]
    public void Window_closes_on_sweep_once_the_watermark_is_a_minute_past_its_end()
    {
        var extractor = new SessionScript("s1").Shown("g1").Run();

        new SessionScript("s2", start: SessionScript.T0.AddSeconds(119)).Ended().Feed(extractor, firstOffset: 1);
        extractor.Sweep();
        Assert.Empty(extractor.Output.Windows);
        Assert.Equal(1, extractor.OpenEngagementWindows);

        new SessionScript("s3", start: SessionScript.T0.AddSeconds(121)).Ended().Feed(extractor, firstOffset: 2);
        extractor.Sweep();
        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(1, window.Shown);
        Assert.Equal(0, extractor.OpenEngagementWindows);
        Assert.Equal(1, extractor.Counters.EngagementWindowsClosed);
    }

    [Fact]
    public void Event_for_a_closed_window_is_counted_late_and_not_added()
    {
        var extractor = new SessionScript("s1").Shown("g1").Run();
        new SessionScript("s2", start: SessionScript.T0.AddMinutes(3)).Ended().Feed(extractor, firstOffset: 1);
        extractor.Sweep();
        Assert.Single(extractor.Output.Windows);

        new SessionScript("s1", start: SessionScript.T0.AddSeconds(30), eventIds: "s1-late").Copied("g1").Feed(extractor, firstOffset: 2);
        extractor.ResolveAll();

        Assert.Equal(1, extractor.Counters.LateEngagementEvents);
        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(0, window.Copied);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Event_for_a_window_already_due_is_late_whether_or_not_a_sweep_ran_in_between(bool sweepAfterEachEvent)
    {
        // "Due" is decided by the watermark when the event arrives, so how often the host sweeps changes
        // when the window's row appears, never what it counts.
        var events = new SessionScript("s1").Shown("g1").Events
            .Concat(new SessionScript("s2", start: SessionScript.T0.AddMinutes(3)).Ended().Events)
            .Concat(new SessionScript("s1", start: SessionScript.T0.AddSeconds(30), eventIds: "s1-late").Copied("g1").Events)
            .ToList();
        var extractor = new Extractor();
        for (var offset = 0; offset < events.Count; offset++)
        {
            extractor.Process(0, offset, events[offset]);
            if (sweepAfterEachEvent) extractor.Sweep();
        }
        extractor.ResolveAll();

        Assert.Equal(1, extractor.Counters.LateEngagementEvents);
        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal((1L, 0L), (window.Shown, window.Copied));
    }

    [Fact]
    public void Event_about_a_generation_never_shown_is_counted_as_unattributed()
    {
        var extractor = new SessionScript().Copied("g9").Chose("cs", "g9").RunToEnd();

        Assert.Equal(2, extractor.Counters.UnattributedEngagementEvents);
        Assert.Empty(extractor.Output.Windows);
    }

    [Fact]
    public void Shares_of_one_window_from_two_partitions_are_two_rows_whose_counts_add_up_to_the_window()
    {
        var extractor = new Extractor();
        new SessionScript("s1").Shown("g1").Feed(extractor, partition: 0);
        new SessionScript("s2").Shown("g2").Feed(extractor, partition: 1);

        extractor.ResolveAll();

        // Each partition's share is its own row, so two instances splitting the partitions write the same rows.
        Assert.Equal([(0, 1L), (1, 1L)], extractor.Output.Windows.Select(w => (w.Partition, w.Shown)).ToArray());
        Assert.Equal(2, extractor.Output.Windows.Select(w => w.WindowId).Distinct().Count());
        Assert.Equal(2, Assert.Single(EngagementTotal.Of(extractor.Output.Windows)).Shown);
    }

    [Fact]
    public void An_open_window_holds_the_commit_at_the_first_record_of_the_sessions_it_counted_events_of()
    {
        // g1 is shown at 09:00:50 (offset 10) and thumbed at 09:01:05 (offset 11), in the next window; the session ends.
        // Another session at 09:02:10 (offset 13) closes the 09:00 window but not the 09:01 one. Re-reading the 09:01
        // share from its own first record (11) would miss the shown event that attributes the thumb.
        var extractor = new Extractor();
        new SessionScript("s1").At(TimeSpan.FromSeconds(50)).Shown("g1").At(TimeSpan.FromSeconds(65)).ThumbUp("g1").Ended()
            .Feed(extractor, partition: 0, firstOffset: 10);
        new SessionScript("s2").At(TimeSpan.FromSeconds(130)).Shown("g2").Feed(extractor, partition: 0, firstOffset: 13);
        extractor.Sweep();

        Assert.Equal([SessionScript.T0], extractor.Output.Windows.Select(w => w.WindowStart).ToArray());
        Assert.Equal(10, extractor.CommittableOffset(0, 14));
    }

    [Fact]
    public void Dwell_values_past_the_sample_cap_are_counted_but_not_in_the_percentiles()
    {
        var extractor = new SessionScript().Shown("g1").Dwelled("g1", 10).Dwelled("g1", 20).Dwelled("g1", 1_000_000)
            .RunToEnd(new ExtractionSettings { MaxDwellSamplesPerWindow = 2 });

        var window = Assert.Single(extractor.Output.Windows);
        Assert.Equal(3, window.DwellSamples);
        Assert.Equal(20, window.DwellP99Ms);
        Assert.Equal(1, extractor.Counters.DwellSamplesOverCap);
    }
}
