using System.Diagnostics;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Session budgets (docs/contract/rules.md, "Session budgets"; issue 10, finding 6): a session over its entry or
/// byte budget is cut with a reason and never grows again, the cut is the same on every replay, all sessions
/// together stay under the global budget, and pending signals are found by key, not by scanning.
/// </summary>
public sealed class SessionBudgetTests
{
    private static readonly ExtractionSettings Defaults = new();

    /// <summary>entries, bytes, max entries, max bytes → reason (null: within budget).</summary>
    public static TheoryData<int, long, int, long, string?> Decisions() => new()
    {
        { 0, 0, 10, 1_000, null },
        { 10, 1_000, 10, 1_000, null }, // exactly at both budgets is within them
        { 11, 1_000, 10, 1_000, SessionBudget.EntriesReason },
        { 10, 1_001, 10, 1_000, SessionBudget.BytesReason },
        { 11, 1_001, 10, 1_000, SessionBudget.EntriesReason }, // over both: entries first
        { int.MaxValue, long.MaxValue, int.MaxValue, long.MaxValue, null },
    };

    [Theory]
    [MemberData(nameof(Decisions))]
    public void A_session_is_cut_only_past_a_budget_and_the_reason_names_it(int entries, long bytes, int maxEntries, long maxBytes, string? reason) =>
        Assert.Equal(reason, SessionBudget.Check(entries, bytes, new ExtractionSettings { MaxEntriesPerSession = maxEntries, MaxSessionBytes = maxBytes }));

    [Theory]
    [InlineData(1_000, 900)]
    [InlineData(512L * 1024 * 1024, 483_183_819)]
    [InlineData(9, 0)]
    [InlineData(long.MaxValue, long.MaxValue / 10 * 9)]
    public void Global_eviction_brings_the_estimate_back_to_90_percent(long budget, long target) =>
        Assert.Equal(target, SessionBudget.EvictionTarget(budget));

    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        Assert.Equal(50_000, Defaults.MaxEntriesPerSession);
        Assert.Equal(16L * 1024 * 1024, Defaults.MaxSessionBytes);
        Assert.Equal(512L * 1024 * 1024, Defaults.MaxSessionStateBytes);
    }

    [Fact]
    public void A_realistic_long_session_stays_far_inside_the_default_budgets()
    {
        // 200 turns; every prompt repeats the conversation so far (capped at 8 KiB), answers of 1 KiB, a thumb,
        // a rating, a copy and a regenerate on each.
        var script = new SessionScript();
        for (var i = 0; i < 200; i++)
        {
            var question = new string('q', Math.Min(8_192, 40 * (i + 1)));
            script.Shown($"g{i:D3}", new string('a', 1_024) + i, question).ThumbUp($"g{i:D3}").Rated($"g{i:D3}", 5).Copied($"g{i:D3}");
            script.Regenerated($"g{i:D3}", $"r{i:D3}").Shown($"r{i:D3}", new string('b', 1_024) + i, question).Accepted($"r{i:D3}");
        }
        var extractor = script.Run();
        Assert.Equal(1, extractor.OpenSessions);
        Assert.InRange(extractor.SessionStateBytes, 1, Defaults.MaxSessionBytes / 2);
        Assert.Equal(0, extractor.Counters.SessionsCutOverEntries + extractor.Counters.SessionsCutOverBytes);
    }

    [Fact]
    public void A_session_over_its_byte_budget_is_cut_its_rules_run_on_what_it_held_and_its_key_ignores_the_rest()
    {
        var settings = new ExtractionSettings { MaxSessionBytes = 64 * 1024 };
        var script = new SessionScript().Shown("g1").ThumbUp("g1");
        // Pending edits of 4 KiB (8 KiB of UTF-16 each) for generations never shown: the eighth crosses 64 KiB.
        for (var i = 0; i < 100; i++) script.Edited($"unseen{i}", new string('e', 4_096));
        script.Shown("g2").ThumbDown("g2").Ended();

        var extractor = new Extractor(settings);
        script.Feed(extractor);

        Assert.Equal(1, extractor.Counters.SessionsCutOverBytes);
        Assert.Equal(0, extractor.Counters.SessionsCutOverEntries);
        // Rule 5 ran at the cut on what the session held; nothing after the cut counted, session.ended included.
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
        var applied = 2 + 8;
        Assert.Equal(script.Events.Count - applied, extractor.Counters.EventsIgnoredInCutSessions);
        Assert.Equal(0, extractor.Counters.SessionsEnded);
        Assert.Equal(8, extractor.Counters.SignalsNeverResolved);
        // The marker is all that is left, and it still holds the commit at the session's first record.
        Assert.Equal(1, extractor.OpenSessions);
        Assert.Equal(SessionBudget.EmptySessionBytes, extractor.SessionStateBytes);
        Assert.Equal(0, extractor.CommittableOffset(0, script.Events.Count));
    }

    [Fact]
    public void A_session_over_its_entry_budget_is_cut_and_its_marker_expires_like_a_session()
    {
        var settings = new ExtractionSettings { MaxEntriesPerSession = 20 };
        var script = new SessionScript();
        // Ratings of 2 for generations never shown: one entry each (no positive signal), so the 21st crosses 20.
        for (var i = 0; i < 30; i++) script.Rated($"never-shown-{i}", 2);
        var extractor = new Extractor(settings);
        script.Feed(extractor);

        Assert.Equal(1, extractor.Counters.SessionsCutOverEntries);
        Assert.Equal(30 - 21, extractor.Counters.EventsIgnoredInCutSessions);

        // Past the timeout the marker expires (not counted as a timed-out session) and the key starts afresh.
        var later = new SessionScript(start: script.Clock + Defaults.SessionTimeout + TimeSpan.FromMinutes(1), eventIds: "later").Shown("g1").ThumbUp("g1");
        later.Feed(extractor, firstOffset: 100);
        extractor.ResolveAll();

        Assert.Equal(0, extractor.Counters.SessionsTimedOut);
        Assert.Equal(["g1 u1 True"], Rows.LabelsOf(extractor));
        Assert.Equal(0, extractor.SessionStateBytes);
    }

    [Fact]
    public void A_cut_session_is_cut_at_the_same_event_on_a_replay_from_the_committed_offset()
    {
        var settings = new ExtractionSettings { MaxEntriesPerSession = 40 };
        var hostile = new SessionScript("hostile");
        for (var i = 0; i < 30; i++) hostile.Shown($"h{i}").ThumbUp($"h{i}");
        var good = new SessionScript("good").Shown("g1").ThumbUp("g1").Ended();
        // Interleave the two sessions in one partition, as the broker would.
        var records = hostile.Events.Take(20).Concat(good.Events).Concat(hostile.Events.Skip(20)).ToList();

        var first = new Extractor(settings);
        for (var i = 0; i < records.Count; i++) first.Process(0, i, records[i]);
        var committed = first.CommittableOffset(0, records.Count);
        first.ResolveAll();

        // A crash after the commit: a new extractor re-reads the partition from the committed offset.
        var replay = new Extractor(settings);
        for (var i = (int)committed; i < records.Count; i++) replay.Process(0, i, records[i]);
        replay.ResolveAll();

        Assert.Equal(0, committed);
        Assert.Equal(1, replay.Counters.SessionsCutOverEntries);
        Assert.Equal(first.Counters.EventsIgnoredInCutSessions, replay.Counters.EventsIgnoredInCutSessions);
        Assert.Equal(Rows.LabelsOf(first), Rows.LabelsOf(replay));
        Assert.Equal(Rows.PairsOf(first), Rows.PairsOf(replay));
    }

    [Fact]
    public void Over_the_global_budget_the_least_recently_active_sessions_are_resolved_until_90_percent()
    {
        var probe = new SessionScript("probe").Shown("gxx", new string('x', 10_000)).ThumbUp("gxx").Run();
        var perSession = probe.SessionStateBytes;
        var extractor = new Extractor(new ExtractionSettings { MaxSessionStateBytes = perSession * 10 });
        for (var i = 0; i < 11; i++)
        {
            new SessionScript($"s{i:D2}", start: SessionScript.T0.AddSeconds(i * 10)).Shown($"g{i:D2}", new string('x', 10_000)).ThumbUp($"g{i:D2}")
                .Feed(extractor, partition: i % 3, firstOffset: i * 2);
        }

        // The eleventh session crossed 10 × its size; down to 9 sessions, the two oldest resolved with their labels.
        Assert.Equal(2, extractor.Counters.SessionsEvictedForMemory);
        Assert.Equal(9, extractor.OpenSessions);
        Assert.Equal(perSession * 9, extractor.SessionStateBytes);
        Assert.Equal(["g00 u1 True", "g01 u1 True"], Rows.LabelsOf(extractor));
    }

    [Fact]
    public void The_estimate_is_kept_exactly_as_entries_come_and_go()
    {
        // An edit that waited for its generation leaves the same state as one that came after it.
        var waited = new SessionScript().Edited("g1", "Answer g1!!").Shown("g1").Run();
        var direct = new SessionScript().Shown("g1").Edited("g1", "Answer g1!!").Run();
        Assert.Single(waited.Output.Pairs);
        Assert.Equal(direct.SessionStateBytes, waited.SessionStateBytes);

        // Every session resolved or dropped gives all its bytes back.
        var extractor = new SessionScript().Shown("g1").ThumbUp("g1").Rated("g1", 2).Regenerated("g1", "g2").Shown("g2", candidateSet: "c")
            .Chose("c", "g2").Edited("g9", "x").Run();
        new SessionScript("other").Shown("g3").Feed(extractor, partition: 1, firstOffset: 50);
        Assert.True(extractor.SessionStateBytes > 2 * SessionBudget.EmptySessionBytes);
        extractor.DropPartition(1);
        extractor.ResolveAll();
        Assert.Equal(0, extractor.SessionStateBytes);
    }

    [Fact]
    public void Shown_events_find_pending_edits_and_candidate_sets_by_key_not_by_scanning()
    {
        // Without budgets, the shapes that were quadratic: 20,000 edits pending for unseen generations, then
        // 20,000 shown events (each rescanned every pending edit: 400 million steps), and a chosen candidate
        // set grown to 5,000 members (each re-paired the whole set: 12.5 million pair ids).
        var unbounded = new ExtractionSettings { MaxEntriesPerSession = int.MaxValue, MaxSessionBytes = long.MaxValue, MaxGenerationsPerSession = int.MaxValue, MaxCandidatesPerSet = int.MaxValue };
        var script = new SessionScript();
        for (var i = 0; i < 20_000; i++) script.Edited($"unseen{i}", "edited");
        for (var i = 0; i < 20_000; i++) script.Shown($"g{i}");
        script.Shown("c0", candidateSet: "big").Chose("big", "c0");
        for (var i = 1; i < 5_000; i++) script.Shown($"c{i}", candidateSet: "big");

        var clock = Stopwatch.StartNew();
        var extractor = script.Run(unbounded);
        clock.Stop();

        Assert.Equal(Defaults.MaxPairsPerSessionPerRule, extractor.Output.Pairs.Count);
        // Linear work is a few tens of milliseconds; the scans took tens of seconds.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        extractor.ResolveAll();
        Assert.Equal(20_000, extractor.Counters.SignalsNeverResolved);
    }
}
