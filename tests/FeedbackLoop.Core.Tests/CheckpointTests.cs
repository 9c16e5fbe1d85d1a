using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Partition checkpoints (ADR 0014): a checkpoint taken anywhere in a stream and restored into a fresh extractor gives the
/// same state, and the stream's rest then gives the same rows as the extractor that never stopped; a damaged, foreign-format
/// or oversized body is refused with its reason and leaves the extractor as it was.
/// </summary>
public sealed class CheckpointTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    public static TheoryData<string, int> Streams()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in Scenarios.Keys)
        {
            var length = Scenarios[name]().Events.Count;
            foreach (var cut in new[] { 0, 1, length / 3, length / 2, length - 1, length }.Distinct()) data.Add(name, cut);
        }
        return data;
    }

    // Each stream interleaves sessions that are still open at most cuts, so the checkpoint holds every kind of state.
    private static readonly Dictionary<string, Func<(List<FeedbackEvent> Events, ExtractionSettings Settings)>> Scenarios = new()
    {
        ["thumbs, ratings and labels"] = () => (Interleave(
            new SessionScript("s1").Shown("a").Shown("b").ThumbUp("a").ThumbDown("b").Rated("a", 5).ThumbUp("b").ThumbDown("b"),
            new SessionScript("s2", "u2").Shown("c", question: "Other?").Rated("c", 2).Rated("c", 4).Dwelled("c", 900).Copied("c")), new ExtractionSettings()),
        ["regenerate chain, pending edit, candidate set"] = () => (Interleave(
            new SessionScript("s1").Shown("g1").Regenerated("g1", "g2").Regenerated("g2", "g3").Shown("g2").Accepted("g3").Shown("g3"),
            new SessionScript("s2").Edited("e1", "An edited answer of e1, changed a bit").Shown("e1").Edited("e1", "Another edit of e1 entirely"),
            new SessionScript("s3").Chose("cs", "x").Shown("x", candidateSet: "cs").Shown("y", candidateSet: "cs").Shown("z", candidateSet: "cs").Chose("cs", "y")),
            new ExtractionSettings()),
        ["cut session, duplicates, pair budget"] = () => (Interleave(
            Flood("s-flood", 12),
            new SessionScript("s-dup").Shown("d1").Redelivered().ThumbUp("d1").Redelivered().Ended(),
            new SessionScript("s-late", start: SessionScript.T0.AddMinutes(5)).Shown("l1").ThumbDown("l1")),
            new ExtractionSettings { MaxEntriesPerSession = 10, MaxPairsPerSessionPerRule = 2 }),
        ["the SDK's UUID event ids among text ones, duplicates"] = () => (Interleave(
            new SessionScript("s-dup").Shown("d1").Redelivered().ThumbUp("d1").Redelivered().Ended(),
            new SessionScript("s2", "u2").Shown("c").Rated("c", 2).Dwelled("c", 900)).Select(WithUuidIds).ToList(),
            new ExtractionSettings()),
        ["two apps, timeouts, closing windows"] = () => (Interleave(
            new SessionScript("s1", appId: "app-a").Shown("a1").ThumbUp("a1").After(TimeSpan.FromMinutes(40)).Shown("a2").ThumbDown("a2"),
            new SessionScript("s2", appId: "app-b").Shown("b1").After(3 * Minute).Shown("b2").Dwelled("b2", 100).After(3 * Minute).Dwelled("b1", 50).Ended()),
            new ExtractionSettings()),
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void A_restored_checkpoint_holds_the_same_state_and_the_rest_of_the_stream_makes_the_same_rows(string scenario, int cut)
    {
        var (events, settings) = Scenarios[scenario]();
        var running = new Extractor(settings);
        for (var i = 0; i < cut; i++) running.Process(0, i, events[i], events[i].OccurredAt);
        running.Sweep();
        running.Output.TakeAll();
        var duplicatesBefore = running.Counters.DuplicateEvents;
        var body = running.CheckpointPartition(0)!.Value.ToArray();

        var restored = new Extractor(settings);
        Assert.Null(restored.RestorePartition(0, body));

        Assert.Equal(body, restored.CheckpointPartition(0)?.ToArray());
        Assert.Equal((running.OpenSessions, running.SessionStateBytes, running.OpenEngagementWindows),
            (restored.OpenSessions, restored.SessionStateBytes, restored.OpenEngagementWindows));
        foreach (var extractor in new[] { running, restored })
        {
            for (var i = cut; i < events.Count; i++) extractor.Process(0, i, events[i], events[i].OccurredAt);
            extractor.ResolveAll();
        }
        Assert.Equal(RowsOf(running), RowsOf(restored));
        // The restored de-duplication window knows the ids read before the checkpoint.
        Assert.Equal(running.Counters.DuplicateEvents - duplicatesBefore, restored.Counters.DuplicateEvents);
    }

    [Fact]
    public void The_stream_makes_rows_at_all_so_the_table_above_compares_something()
    {
        var (events, settings) = Scenarios["regenerate chain, pending edit, candidate set"]();
        var extractor = new Extractor(settings);
        for (var i = 0; i < events.Count; i++) extractor.Process(0, i, events[i]);
        extractor.ResolveAll();
        Assert.Equal(Rows.Sorted("comparison x>y", "comparison x>z", "comparison y>x", "comparison y>z", "edit s2-e1>e1", "edit s2-e3>e1", "regenerate g3>g1", "regenerate g3>g2"),
            Rows.PairsOf(extractor));
    }

    public static TheoryData<string, string> Damages() => new()
    {
        { "cut off after the header", CheckpointReasons.Truncated },
        { "cut off in the middle", CheckpointReasons.Truncated },
        { "last byte missing", CheckpointReasons.Truncated },
        { "a byte appended", CheckpointReasons.Corrupt },
        { "wrong magic", CheckpointReasons.Corrupt },
        { "another format version", CheckpointReasons.Version },
        { "another partition's", CheckpointReasons.Corrupt },
        { "a count past the end", CheckpointReasons.Truncated },
        { "a negative count", CheckpointReasons.Corrupt },
        { "empty", CheckpointReasons.Truncated },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void A_damaged_body_is_refused_with_its_reason_and_changes_nothing(string damage, string reason)
    {
        var (events, settings) = Scenarios["thumbs, ratings and labels"]();
        var source = new Extractor(settings);
        for (var i = 0; i < 6; i++) source.Process(0, i, events[i]);
        var body = source.CheckpointPartition(0)!.Value.ToArray();
        // Offsets of the layout: magic (4), version (4), partition (4), watermark and record clock (10 each), sequence (8), app count (4).
        const int AppCount = 4 + 4 + 4 + 10 + 10 + 8;
        var damaged = damage switch
        {
            "cut off after the header" => body[..12],
            "cut off in the middle" => body[..(body.Length / 2)],
            "last byte missing" => body[..^1],
            "a byte appended" => [.. body, 0],
            "wrong magic" => With(body, 0, 0x46, 0x4C, 0x58, 0x00),
            "another format version" => With(body, 4, Extractor.CheckpointFormatVersion + 1, 0, 0, 0),
            "another partition's" => With(body, 8, 7, 0, 0, 0),
            "a count past the end" => With(body, AppCount, 0xFF, 0xFF, 0xFF, 0x7F),
            "a negative count" => With(body, AppCount, 0xFF, 0xFF, 0xFF, 0xFF),
            "empty" => [],
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };

        var target = new Extractor(settings);
        for (var i = 0; i < 3; i++) target.Process(0, i, events[i]);
        var before = target.CheckpointPartition(0)?.ToArray();

        Assert.Equal(reason, target.RestorePartition(0, damaged));
        Assert.Equal(before, target.CheckpointPartition(0)?.ToArray());
    }

    public static TheoryData<string> ScenarioNames() => [.. Scenarios.Keys];

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public void A_checkpoint_sized_from_the_last_one_holds_exactly_the_state_as_it_grows_and_shrinks(string scenario)
    {
        // The running extractor sizes each body's buffer from its previous one (smaller or larger than the next); the fresh
        // one, fed the same prefix, starts from nothing. Every checkpoint must be the same bytes either way.
        var (events, settings) = Scenarios[scenario]();
        var running = new Extractor(settings);
        for (var i = 0; i < events.Count; i++)
        {
            running.Process(0, i, events[i], events[i].OccurredAt);
            running.Sweep();
            var fresh = new Extractor(settings);
            for (var j = 0; j <= i; j++)
            {
                fresh.Process(0, j, events[j], events[j].OccurredAt);
                fresh.Sweep();
            }
            Assert.Equal(fresh.CheckpointPartition(0)!.Value.ToArray(), running.CheckpointPartition(0)!.Value.ToArray());
        }
    }

    [Fact]
    public void A_checkpoint_over_the_size_bound_is_neither_written_nor_loaded()
    {
        var (events, _) = Scenarios["thumbs, ratings and labels"]();
        var unbounded = new Extractor();
        foreach (var (evt, offset) in events.Select((e, i) => (e, (long)i))) unbounded.Process(0, offset, evt);
        var body = unbounded.CheckpointPartition(0)!.Value.ToArray();
        var bounded = new ExtractionSettings { MaxCheckpointBytes = body.Length - 1 };

        var over = new Extractor(bounded);
        foreach (var (evt, offset) in events.Select((e, i) => (e, (long)i))) over.Process(0, offset, evt);
        Assert.Null(over.CheckpointPartition(0));
        Assert.Equal(CheckpointReasons.TooLarge, new Extractor(bounded).RestorePartition(0, body));
        Assert.Null(new Extractor(bounded with { MaxCheckpointBytes = body.Length }).RestorePartition(0, body));
    }

    [Fact]
    public void A_restored_partition_keeps_the_offset_its_oldest_open_session_needs()
    {
        var extractor = new Extractor();
        new SessionScript("s1").Shown("a").Feed(extractor, firstOffset: 100);
        new SessionScript("s2").Shown("b").Feed(extractor, firstOffset: 200);
        var restored = new Extractor();
        Assert.Null(restored.RestorePartition(0, extractor.CheckpointPartition(0)!.Value.Span));
        Assert.Equal(100, restored.CommittableOffset(0, 300));
    }

    /// <summary>
    /// docs/SECURITY.md's former known limit: session A ends over its pair budget while session B, begun inside A, holds an
    /// engagement window open. The commit before checkpoints stood at B's first record, so a restart rebuilt A from its
    /// tail and its budget kept another pair; a restart from the checkpoint resumes after A and adds nothing.
    /// </summary>
    [Fact]
    public void A_restart_inside_an_ended_over_budget_session_adds_no_pair_from_the_checkpoint_where_a_re_read_adds_one()
    {
        var settings = new ExtractionSettings { MaxPairsPerSessionPerRule = 2 };
        var a = new SessionScript("s-a").Shown("a1").Shown("a2").ThumbUp("a1").ThumbDown("a2");
        var b = new SessionScript("s-b", "u2", start: SessionScript.T0.AddMinutes(5)).Shown("b1");
        var aTail = new SessionScript("s-a", start: SessionScript.T0.AddSeconds(4), eventIds: "s-a-tail").Shown("a3").Shown("a4").ThumbUp("a3").ThumbDown("a4").Ended();
        List<FeedbackEvent> events = [.. a.Events, .. b.Events, .. aTail.Events];
        var first = new Extractor(settings);
        for (var i = 0; i < events.Count; i++) first.Process(0, i, events[i]);
        first.Sweep();
        var firstPairs = first.Output.Pairs.Select(p => p.PairId).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Rows.Sorted("thumbs a1>a2", "thumbs a1>a4"), Rows.PairsOf(first));
        var commitBefore = first.CommittableOffset(0, events.Count);
        Assert.Equal(a.Events.Count, commitBefore);

        // Before checkpoints: the restart re-reads from B's first record, inside A.
        var reread = new Extractor(settings);
        for (var i = (int)commitBefore; i < events.Count; i++) reread.Process(0, i, events[i]);
        reread.Sweep();
        Assert.Equal(["thumbs a3>a4"], reread.Output.Pairs.Where(p => !firstPairs.Contains(p.PairId)).Select(Rows.Describe));

        // With checkpoints: the restart resumes after the last record, with B's window and nothing of A.
        var restored = new Extractor(settings);
        Assert.Null(restored.RestorePartition(0, first.CheckpointPartition(0)!.Value.Span));
        restored.Sweep();
        restored.ResolveAll();
        Assert.Empty(restored.Output.Pairs);
    }

    /// <summary>Every other id as a lowercase UUID derived from it, as the SDK sends them; a redelivered event keeps its twin's.</summary>
    private static FeedbackEvent WithUuidIds(FeedbackEvent evt)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(evt.EventId));
        return hash[0] % 2 == 0 ? evt with { EventId = new Guid(hash.AsSpan(0, 16)).ToString("D") } : evt;
    }

    private static byte[] With(byte[] body, int at, params int[] bytes)
    {
        var copy = body.ToArray();
        for (var i = 0; i < bytes.Length; i++) copy[at + i] = (byte)bytes[i];
        return copy;
    }

    private static SessionScript Flood(string sessionId, int generations)
    {
        var script = new SessionScript(sessionId, "u-flood");
        for (var i = 0; i < generations; i++) script.Shown($"f{i}").ThumbUp($"f{i}");
        return script;
    }

    /// <summary>The scripts' events, one of each in turn while any is left (sessions that interleave on one partition).</summary>
    private static List<FeedbackEvent> Interleave(params SessionScript[] scripts)
    {
        var events = new List<FeedbackEvent>();
        for (var i = 0; scripts.Any(s => i < s.Events.Count); i++)
        {
            foreach (var script in scripts.Where(s => i < s.Events.Count)) events.Add(script.Events[i]);
        }
        return events;
    }

    /// <summary>Every row with every column, sorted: the same text means the same rows.</summary>
    private static string[] RowsOf(Extractor extractor) =>
    [
        .. extractor.Output.Pairs.Select(p => JsonSerializer.Serialize(p))
            .Concat(extractor.Output.Labels.Select(l => JsonSerializer.Serialize(l)))
            .Concat(extractor.Output.Windows.Select(w => JsonSerializer.Serialize(w)))
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>
    /// A body of <see cref="Extractor.PreviousCheckpointFormatVersion"/>, written by the extractor before UUID ids were kept as
    /// their bytes (commit ae26645), for <see cref="PreviousFormatStream"/>. An upgrade must restore what its predecessor
    /// committed, or it re-reads every partition from where its oldest open session began.
    /// </summary>
    private const string PreviousFormatBody =
        "RkxYUwEAAAAAAAAAAAKuyTFa3QgAAAACrskxWt0IAAAFAAAAAAAAAAEAAAADYXBwAAKuyTFa3QgAAAIAAAAFAAAAAAAAAAUAAAAkMDE5MGM1YTgtMTExMS03MDAwLTgwMDAtMDAwMDAwMDAwMDAxJDAxOTBjNWE4LTExMTEtNzAwMC04MDAwLTAwMDAwMDAwMDAwMglzMi10ZXh0LTEkMDE5MGM1YTgtMTExMS03MDAwLTgwMDAtMDAwMDAwMDAwMDAzCVMyLVRFWFQtMgIAAAADYXBwAnMxAAAAAAAAAACAaxXJMVrdCAAAAYBrFckxWt0IAAAAGA4AAAAAAAACAAAAAmcxB21vZGVsLWEAAgAAAAZzeXN0ZW0cWW91IGFyZSBhIGhlbHBmdWwgYXNzaXN0YW50LgR1c2VyHldoYXQgaXMgdGhlIGNhcGl0YWwgb2YgRnJhbmNlPwZQYXJpcy4AAmcyB21vZGVsLWIAAgAAAAZzeXN0ZW0cWW91IGFyZSBhIGhlbHBmdWwgYXNzaXN0YW50LgR1c2VyHldoYXQgaXMgdGhlIGNhcGl0YWwgb2YgRnJhbmNlPwxJdCBpcyBQYXJpcy4AAQAAAAJnMQJ1MQGAaxXJMVrdCAAAAQAAAAAAAAAAAAAAAAEAAAACZzGAaxXJMVrdCAAAAnUxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2FwcAJzMgIAAAAAAAAAAAKuyTFa3QgAAAEAAq7JMVrdCAAAAAQLAAAAAAAAAQAAAAJnMwdtb2RlbC1hAAIAAAAGc3lzdGVtHFlvdSBhcmUgYSBoZWxwZnVsIGFzc2lzdGFudC4EdXNlch5XaGF0IGlzIHRoZSBjYXBpdGFsIG9mIEZyYW5jZT8FTHlvbi4AAQAAAAJnMwJ1MgAAAq7JMVrdCAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAq7JMVrdCAAAAgAAAANhcHAHbW9kZWwtYQAAqEvHMVrdCAAAAAAAAAAACwAAAAIAAAAAAAAAAQAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQACrskxWt0IAAADYXBwB21vZGVsLWIAAKhLxzFa3QgAAAAAAAAAAAsAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAPuTHMVrdCAAA";

    /// <summary>UUID and text event ids, one id sent twice, two sessions left open: the stream <see cref="PreviousFormatBody"/> was taken after.</summary>
    private static List<FeedbackEvent> PreviousFormatStream()
    {
        var t0 = SessionScript.T0;
        var prompt = SessionScript.Prompt();
        return
        [
            new("0190c5a8-1111-7000-8000-000000000001", "app", "s1", "u1", t0, new GenerationShown("g1", "model-a", prompt, "Paris.")),
            new("0190c5a8-1111-7000-8000-000000000002", "app", "s1", "u1", t0.AddSeconds(1), new GenerationShown("g2", "model-b", prompt, "It is Paris.")),
            new("s2-text-1", "app", "s2", "u2", t0.AddSeconds(2), new GenerationShown("g3", "model-a", prompt, "Lyon.")),
            new("0190c5a8-1111-7000-8000-000000000003", "app", "s1", "u1", t0.AddSeconds(3), new ThumbGiven("g1", ThumbValue.Up)),
            new("0190c5a8-1111-7000-8000-000000000003", "app", "s1", "u1", t0.AddSeconds(3), new ThumbGiven("g1", ThumbValue.Up)),
            new("S2-TEXT-2", "app", "s2", "u2", t0.AddSeconds(4), new ThumbGiven("g3", ThumbValue.Down)),
        ];
    }

    [Fact]
    public void A_body_of_the_previous_format_restores_the_state_the_same_stream_builds_now()
    {
        var events = PreviousFormatStream();
        var running = new Extractor();
        for (var i = 0; i < events.Count; i++) running.Process(0, i, events[i], events[i].OccurredAt);
        running.Sweep();
        var previous = Convert.FromBase64String(PreviousFormatBody);
        Assert.Equal(Extractor.PreviousCheckpointFormatVersion, BitConverter.ToInt32(previous, 4));

        var restored = new Extractor();
        Assert.Null(restored.RestorePartition(0, previous));

        // The same state, now written in the current format by both.
        var current = running.CheckpointPartition(0)!.Value.ToArray();
        Assert.Equal(Extractor.CheckpointFormatVersion, BitConverter.ToInt32(current, 4));
        Assert.Equal(current, restored.CheckpointPartition(0)?.ToArray());
        // Both kinds of id were restored: a packed UUID and a text id sent again are duplicates, a new one is not.
        var again = new[] { events[0], events[2], events[0] with { EventId = "0190c5a8-1111-7000-8000-0000000000ff" } };
        foreach (var evt in again) restored.Process(0, events.Count, evt, evt.OccurredAt);
        Assert.Equal(2, restored.Counters.DuplicateEvents);
    }

    [Fact]
    public void A_packed_uuid_takes_seventeen_bytes_of_a_body_and_a_text_id_its_text()
    {
        var events = PreviousFormatStream();
        var extractor = new Extractor();
        for (var i = 0; i < events.Count; i++) extractor.Process(0, i, events[i], events[i].OccurredAt);
        var body = extractor.CheckpointPartition(0)!.Value.ToArray();
        var previous = Convert.FromBase64String(PreviousFormatBody);

        // Three distinct UUIDs (36 characters and a length byte each before, a tag and 16 bytes now), two text ids (a tag
        // more each), and the byte that says the window is written whole.
        Assert.Equal(previous.Length - (3 * (37 - 17)) + 2 + 1, body.Length);
    }

    [Fact]
    public void An_id_with_an_unknown_tag_is_a_damaged_body()
    {
        var (events, settings) = Scenarios["thumbs, ratings and labels"]();
        var source = new Extractor(settings);
        for (var i = 0; i < 6; i++) source.Process(0, i, events[i]);
        var body = source.CheckpointPartition(0)!.Value.ToArray();
        // After the header (44 bytes with the app count), the one app "app" (its string, clock, open sessions, last active),
        // the window's section (0: written whole) and its id count: the first id's tag, a text id's in this stream.
        const int Section = 44 + (1 + 3) + 10 + 4 + 8;
        const int FirstIdTag = Section + 1 + 4;
        Assert.Equal((0, 2), (body[Section], body[FirstIdTag]));

        var target = new Extractor(settings);
        Assert.Equal(CheckpointReasons.Corrupt, target.RestorePartition(0, With(body, FirstIdTag, 0x7F)));
        Assert.Equal(CheckpointReasons.Corrupt, target.RestorePartition(0, With(body, Section, 0x7F)));
        Assert.Equal(CheckpointReasons.Truncated, target.RestorePartition(0, body.AsSpan(0, FirstIdTag + 1)));
    }

    // The window from DeduplicationWindow.InlineBelow ids on: a base file, and in each body what arrived since it.
    private const int BigWindow = 2 * DeduplicationWindow.InlineBelow;

    /// <summary>One UUID-identified event of its own ended session, as the SDK would send it: it only fills the window.</summary>
    private static FeedbackEvent Ended(int n) =>
        new(new Guid(n, 0x7000, 0x0800, 0, 0, 0, 0, 0, 0, 0, 0).ToString("D"), "app", $"s-{n}", "u1", SessionScript.T0.AddMilliseconds(n), SessionEnded.Instance);

    [Fact]
    public void A_large_window_is_restored_from_its_bases_and_what_each_body_added_across_many_checkpoints()
    {
        var settings = new ExtractionSettings { DeduplicationWindow = BigWindow };
        var running = new Extractor(settings);
        var bases = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        const int Events = 3 * BigWindow, Chunk = 3_000;
        for (var read = 0; read < Events;)
        {
            for (var end = Math.Min(read + Chunk, Events); read < end; read++) running.Process(0, read, Ended(read), Ended(read).OccurredAt);
            running.Sweep();
            var body = running.CheckpointPartition(0)!.Value.ToArray();
            if (running.TakeWindowBase(0) is { } fresh) bases[fresh.Hash] = fresh.Bytes.ToArray();
            var baseHash = running.WindowBaseOf(0);
            Assert.Equal(read >= DeduplicationWindow.InlineBelow, baseHash is not null);
            if (baseHash is null) continue;
            referenced.Add(baseHash);
            // A body holds what arrived since its base, never a whole window's ids again.
            Assert.True(body.Length < bases[baseHash].Length / 2, $"a body of {body.Length} bytes on a base of {bases[baseHash].Length}");

            var restored = new Extractor(settings);
            Assert.Null(restored.RestorePartition(0, body, hash => bases.GetValueOrDefault(hash)));
            Assert.Equal(body, restored.CheckpointPartition(0)?.ToArray());
            Assert.Null(restored.TakeWindowBase(0));
            // The restored window holds exactly the last BigWindow ids: each of them is a duplicate, the one before is not.
            var remembered = Enumerable.Range(Math.Max(0, read - BigWindow), Math.Min(read, BigWindow)).ToList();
            foreach (var n in remembered) Assert.Equal(ProcessOutcome.Duplicate, restored.Process(0, read, Ended(n), Ended(n).OccurredAt));
            if (read > BigWindow) Assert.Equal(ProcessOutcome.Processed, restored.Process(0, read, Ended(read - BigWindow - 1), Ended(read).OccurredAt));
        }
        // A new base once a quarter of the window came after the last one, not at every checkpoint.
        Assert.InRange(referenced.Count, (Events - DeduplicationWindow.InlineBelow) / (BigWindow / 4) - 1, (Events - DeduplicationWindow.InlineBelow) / (BigWindow / 4) + 1);
    }

    [Theory]
    [InlineData(BigWindow / 2)]
    [InlineData(BigWindow * 2)]
    public void A_window_restored_under_another_capacity_keeps_the_newest_ids_it_has_room_for(int capacity)
    {
        var running = new Extractor(new ExtractionSettings { DeduplicationWindow = BigWindow });
        const int Read = BigWindow + BigWindow / 8; // a base, some of its ids forgotten, and ids added since
        for (var n = 0; n < BigWindow; n++) running.Process(0, n, Ended(n), Ended(n).OccurredAt);
        running.CheckpointPartition(0);
        var windowBase = running.TakeWindowBase(0)!;
        for (var n = BigWindow; n < Read; n++) running.Process(0, n, Ended(n), Ended(n).OccurredAt);
        var body = running.CheckpointPartition(0)!.Value.ToArray();
        Assert.Null(running.TakeWindowBase(0)); // the body refers to the base above

        var restored = new Extractor(new ExtractionSettings { DeduplicationWindow = capacity });
        Assert.Null(restored.RestorePartition(0, body, hash => hash == windowBase.Hash ? windowBase.Bytes.ToArray() : null));

        var kept = Math.Min(capacity, BigWindow);
        Assert.Equal(ProcessOutcome.Duplicate, restored.Process(0, Read, Ended(Read - kept), Ended(Read).OccurredAt));
        Assert.Equal(ProcessOutcome.Processed, restored.Process(0, Read, Ended(Read - kept - 1), Ended(Read).OccurredAt));
        // Its next checkpoint, on the old base or a new one, restores to the same state again.
        var next = restored.CheckpointPartition(0)!.Value.ToArray();
        var nextBase = restored.TakeWindowBase(0);
        var again = new Extractor(new ExtractionSettings { DeduplicationWindow = capacity });
        var bases = new Dictionary<string, byte[]> { [windowBase.Hash] = windowBase.Bytes.ToArray() };
        if (nextBase is not null) bases[nextBase.Hash] = nextBase.Bytes.ToArray();
        Assert.Null(again.RestorePartition(0, next, hash => bases.GetValueOrDefault(hash)));
        Assert.Equal(next, again.CheckpointPartition(0)?.ToArray());
    }

    [Fact]
    public void A_body_whose_window_base_is_missing_or_damaged_is_refused_and_changes_nothing()
    {
        var settings = new ExtractionSettings { DeduplicationWindow = BigWindow };
        var source = new Extractor(settings);
        for (var n = 0; n < BigWindow; n++) source.Process(0, n, Ended(n), Ended(n).OccurredAt);
        var body = source.CheckpointPartition(0)!.Value.ToArray();
        var windowBase = source.TakeWindowBase(0)!;
        var damaged = windowBase.Bytes.ToArray();
        damaged[^1] ^= 0xFF;

        var target = new Extractor(settings);
        target.Process(0, 0, Ended(-1), Ended(0).OccurredAt);
        var before = target.CheckpointPartition(0)?.ToArray();
        Assert.Equal(CheckpointReasons.WindowMissing, target.RestorePartition(0, body));
        Assert.Equal(CheckpointReasons.WindowMissing, target.RestorePartition(0, body, _ => null));
        Assert.Equal(CheckpointReasons.Corrupt, target.RestorePartition(0, body, _ => damaged));
        Assert.Equal(before, target.CheckpointPartition(0)?.ToArray());
        Assert.Null(target.RestorePartition(0, body, hash => hash == windowBase.Hash ? windowBase.Bytes.ToArray() : null));
    }

    [Fact]
    public void A_body_over_the_size_bound_leaves_no_reference_to_a_base_that_was_never_written()
    {
        var events = new List<FeedbackEvent>();
        for (var n = 0; n < DeduplicationWindow.InlineBelow; n++) events.Add(Ended(n));
        // An open session whose answer makes the body larger than the bound, while the window's ids sit in the base.
        events.Add(new FeedbackEvent(Guid.NewGuid().ToString("D"), "app", "s-open", "u1", SessionScript.T0.AddHours(1),
            new GenerationShown("g1", "model-a", SessionScript.Prompt(), new string('a', 4_000))));
        var bounded = new ExtractionSettings { MaxCheckpointBytes = 2_000 };
        var extractor = new Extractor(bounded);
        foreach (var (evt, offset) in events.Select((e, i) => (e, (long)i))) extractor.Process(0, offset, evt, evt.OccurredAt);

        Assert.Null(extractor.CheckpointPartition(0));
        Assert.Null(extractor.TakeWindowBase(0));
        Assert.Null(extractor.WindowBaseOf(0));
    }
}
