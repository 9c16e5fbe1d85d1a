using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using Xunit.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 10, findings 1, 2, 3, 4 and 7 through the path the review used: <c>feedbackloop broker</c> and
/// <c>feedbackloop extract</c> as processes, hostile records typed by hand and produced as raw bytes the way kcat
/// sends them, among good sessions. One run meets every attack at once and must end normally; a restart over the same
/// data folder (the crash loop of finding 1) must end normally too and change nothing.
/// </summary>
public sealed class HardeningProcessTests(ITestOutputHelper output)
{
    // In every attack's user text: it must reach no log line, so no process output.
    private const string Marker = "ATTACKER-TEXT-7f3a";

    // Far more edits than the eleven: measured at ~2.9 s each with a full Levenshtein, these alone would cost
    // about two minutes of extractor CPU; the bound below is half of that for the whole run.
    private const int BombEdits = 40;
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(60);

    private static readonly DateTime EndOfTime = new(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Extract_meets_every_hostile_record_among_good_sessions_dead_letters_each_once_and_a_restart_changes_nothing()
    {
        using var root = new TempFolder("hardening-process");
        var data = root.Combine("data");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "3");
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];

        // Partition 0: app "demo" backfills its known sessions (dated months back) while app "other" sends current
        // events, one four minutes ahead (finding 3); halfway through come finding 1's end-of-time events (one with a
        // forged CreateTime too) and finding 2's lone surrogates.
        var now = DateTimeOffset.UtcNow;
        var backfill = KnownSessions.All();
        var current = new List<FeedbackEvent>();
        for (var s = 0; s < 4; s++)
        {
            current.AddRange(new SessionScript("other", $"o-{s}", "ou", now.AddSeconds(s))
                .Shown($"o{s}", "Now?", "Now.").Add(new ThumbGiven($"o{s}", ThumbValue.Up)).Events);
        }
        current.Add(new FeedbackEvent("o-ahead", "other", "o-0", "ou", now.AddMinutes(4), new GenerationCopied("o0")));
        var mixed = new List<Sent>();
        for (var i = 0; i < backfill.Count; i++)
        {
            mixed.Add(Sent.Of(0, backfill[i]));
            if (i % 2 == 1 && i / 2 < current.Count) mixed.Add(Sent.Of(0, current[i / 2]));
        }
        mixed.AddRange(current.Skip(backfill.Count / 2).Select(e => Sent.Of(0, e)));
        var hostile = new List<(Sent Record, string Reason, string Field)>
        {
            (new Sent(0, "evil", HostileRecords.Shown("evil", "9999-12-31T23:59:30Z", "hostile-1", Marker)), EventTimeCheck.TooFarAheadReason, "occurred_at"),
            (new Sent(0, "evil-2", HostileRecords.Shown("evil-2", "9999-12-31T23:59:30Z", "hostile-2", Marker), EndOfTime), EventTimeCheck.TooFarAheadReason, "occurred_at"),
        };
        hostile.AddRange(HostileRecords.LoneSurrogates("s-bad", Marker).Select(b => (new Sent(0, "s-bad", Encoding.UTF8.GetBytes(b.Value)), b.Reason, b.Field)));
        mixed.InsertRange(mixed.Count / 2, hostile.Select(h => h.Record));

        // Partition 1 (finding 4): one session of 1,000 answers to one input, half thumbed up and half down.
        var flood = Flood();
        // A good session ten minutes after the flood moves the app's event time on, so the flood's engagement windows
        // close and the commit passes the whole flood (as KnownSessions' "s-later" does for the backfill). A restart
        // that replays only the tail of an over-budget session is the second test.
        var after = new SessionScript("demo", "s-after", "u-after", flood.Events[^1].OccurredAt.AddMinutes(10))
            .Shown("a-1", "Anything else?", "Nothing else.", model: "m-after").Add(new ThumbGiven("a-1", ThumbValue.Up)).End();

        // Partition 2 (finding 7): edits of texts as long as an event allows, then a long edit inside the limit.
        var random = new Random(10_007);
        var length = EventLimits.MaxEventBytes - 1_024;
        var bomb = new SessionScript("demo", "s-bomb", "u-bomb", KnownSessions.Start).Shown("b-1", "Write a long text", Marker + HostileRecords.Letters(random, length), model: "m-bomb");
        for (var i = 0; i < BombEdits; i++) bomb.Add(new GenerationEdited("b-1", Marker + HostileRecords.Letters(random, length)));
        bomb.End();
        var original = HostileRecords.Letters(random, 8_000);
        var longEdit = new SessionScript("demo", "s-long", "u-long", KnownSessions.Start)
            .Shown("l-1", "Write a report", original, model: "m-long").Add(new GenerationEdited("l-1", original[..7_200] + HostileRecords.Letters(random, 800))).End();

        List<Sent> records = [.. mixed, .. flood.Events.Select(e => Sent.Of(1, e)), .. after.Events.Select(e => Sent.Of(1, e)), .. bomb.Events.Select(e => Sent.Of(2, e)), .. longEdit.Events.Select(e => Sent.Of(2, e))];
        var offsets = Produce(bootstrap, records);
        var crashOffset = offsets[records.IndexOf(hostile[0].Record)];

        // First run: every attack at once.
        var clock = Stopwatch.StartNew();
        var first = await ExtractAsync(bootstrap, data);
        clock.Stop();
        output.WriteLine($"first run: {clock.Elapsed.TotalSeconds:0.0} s\n{first}");

        Assert.True(clock.Elapsed < RunBound, $"the run took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains($"dead-lettered {hostile.Count}, ", first, StringComparison.Ordinal);
        var letters = HostileRecords.ReadDeadLetters(bootstrap, KafkaTopics.DeadLetters);
        Assert.Equal(hostile.Count, letters.Count);
        foreach (var (record, reason, field) in hostile)
        {
            var letter = Assert.Single(letters, l => (l.Value ?? []).AsSpan().SequenceEqual(record.Value));
            Assert.Equal((reason, field), (letter.Headers[ExtractionLoop.ReasonHeader], letter.Headers[ExtractionLoop.FieldHeader]));
        }

        var pairs = await DatasetReader.ReadPairsAsync(data, "demo");
        // Finding 4: the thousand ups and downs (250,000 pairs without a budget) make the budget's pairs, all thumbs.
        var flooded = pairs.Where(p => p.SessionId == "s-flood").ToList();
        Assert.Equal(new ExtractionSettings().MaxPairsPerSessionPerRule, flooded.Count);
        Assert.All(flooded, p => Assert.Equal(PairSignals.Thumbs, p.Signal));
        // Findings 1, 2, 3 and 7: the backfill's sessions make exactly their pairs (the expired sessions of a hijacked
        // clock make none), the edit bombs none, and the long edit inside the limit its own.
        string[] expectedPairs =
        [
            "comparison c-b>c-a s-compare", "comparison c-b>c-c s-compare", "edit s-edit-e2>e-1 s-edit",
            "regenerate r-3>r-1 s-regen", "regenerate r-3>r-2 s-regen", "thumbs t-2>t-1 s-thumbs", "edit s-long-e2>l-1 s-long",
        ];
        Assert.Equal(expectedPairs.Order(StringComparer.Ordinal), pairs.Except(flooded).Select(p => $"{p.Signal} {p.ChosenGenerationId}>{p.RejectedGenerationId} {p.SessionId}").Order(StringComparer.Ordinal));
        var labels = await DatasetReader.ReadLabelsAsync(data, "demo");
        string[] expectedLabels = ["a-1 True", "c-b True", "t-1 False", "t-2 True", "t-3 False"];
        Assert.Equal(expectedLabels, labels.Where(l => l.SessionId != "s-flood").Select(l => $"{l.GenerationId} {l.Label}").Order(StringComparer.Ordinal));
        // Engagement of the backfill's model: every event counted, none late because another app's clock ran ahead.
        var windows = (await DatasetReader.ReadEngagementAsync(data, "demo")).Where(w => w.ModelVersion == "m1").ToList();
        Assert.Equal((11L, 2L, 1L, 2L, 1L, 1L, 1L, 2L, 1L), (
            windows.Sum(w => w.Shown), windows.Sum(w => w.ThumbsUp), windows.Sum(w => w.ThumbsDown), windows.Sum(w => w.Regenerated), windows.Sum(w => w.Edited),
            windows.Sum(w => w.Copied), windows.Sum(w => w.ComparisonsWon), windows.Sum(w => w.ComparisonsLost), windows.Sum(w => w.DwellSamples)));
        var written = await DescribeAsync(data);

        // App "other"'s sessions are still open; the commit passes them all the same, with a checkpoint of their state
        // (ADR 0014), so the restart loads the checkpoints instead of reading the end-of-time record again.
        Assert.True(CommittedOffset(bootstrap, 0) > crashOffset, "the commit stayed before the end-of-time record, as if there were no checkpoints");
        var restart = await ExtractAsync(bootstrap, data);
        output.WriteLine($"restart:\n{restart}");
        Assert.Contains("events read 0,", restart, StringComparison.Ordinal);
        Assert.Contains("loaded 3, discarded 0", restart, StringComparison.Ordinal);

        Assert.Contains("dead-lettered 0, ", restart, StringComparison.Ordinal);
        Assert.Contains("rows written: pairs 0, labels 0, engagement windows 0 ", restart, StringComparison.Ordinal);
        Assert.Equal(hostile.Count, HostileRecords.ReadDeadLetters(bootstrap, KafkaTopics.DeadLetters).Count);
        Assert.Equal(written, await DescribeAsync(data));
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Finding 4: one session of 1,000 answers to one input, half thumbed up and half down (250,000 pairs without a budget).</summary>
    private static SessionScript Flood()
    {
        var flood = new SessionScript("demo", "s-flood", "u-flood", KnownSessions.Start);
        for (var i = 0; i < 1_000; i++) flood.Shown($"f{i:D4}", $"Same question {Marker}", $"Answer {i} {Marker}", model: "m-flood");
        for (var i = 0; i < 1_000; i++) flood.Add(new ThumbGiven($"f{i:D4}", i % 2 == 0 ? ThumbValue.Up : ThumbValue.Down), TimeSpan.Zero);
        return flood.End();
    }

    /// <summary>Runs <c>extract --until-idle</c> to its end: asserts exit 0 and no attacker text in its output, and returns the output.</summary>
    private static async Task<string> ExtractAsync(string bootstrap, string data)
    {
        // --verbose logs each dead-lettered record: the most a log says about a hostile one.
        using var extract = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3", "--verbose");
        var exit = await extract.ExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");
        Assert.DoesNotContain(Marker, extract.Output, StringComparison.Ordinal);
        return extract.Output;
    }

    /// <summary>Produces the records in order to their partitions, as raw bytes; returns each one's offset.</summary>
    private static long[] Produce(string bootstrap, IReadOnlyList<Sent> records)
    {
        var offsets = new long[records.Count];
        var errors = 0;
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true, LingerMs = 5 }).Build();
        for (var i = 0; i < records.Count; i++)
        {
            var n = i;
            var message = new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(records[i].Key), Value = records[i].Value };
            if (records[i].CreateTime is { } time) message.Timestamp = new Timestamp(time, TimestampType.CreateTime);
            producer.Produce(new TopicPartition(KafkaTopics.Events, records[i].Partition), message, r =>
            {
                if (r.Error.IsError) Interlocked.Increment(ref errors);
                else offsets[n] = r.Offset.Value;
            });
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, errors);
        return offsets;
    }

    /// <summary>The extractors' group's committed offset on one partition of the events topic (0 when none).</summary>
    private static long CommittedOffset(string bootstrap, int partition)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "feedbackloop-extractors", EnableAutoCommit = false }).Build();
        var committed = Assert.Single(consumer.Committed([new TopicPartition(KafkaTopics.Events, partition)], TimeSpan.FromSeconds(10)));
        return committed.Offset.IsSpecial ? 0 : committed.Offset.Value;
    }

    /// <summary>Every row of every app, every column that identifies or counts, sorted.</summary>
    private static async Task<string[]> DescribeAsync(string data)
    {
        var rows = new List<string>();
        foreach (var app in DatasetPaths.Apps(data))
        {
            rows.AddRange((await DatasetReader.ReadPairsAsync(data, app)).Select(p => $"pair {p.PairId} {p.Signal} {p.ChosenGenerationId}>{p.RejectedGenerationId} {p.SessionId} {p.CreatedAt:O}"));
            rows.AddRange((await DatasetReader.ReadLabelsAsync(data, app)).Select(l => $"label {l.LabelId} {l.GenerationId} {l.Label} {l.CreatedAt:O}"));
            rows.AddRange((await DatasetReader.ReadEngagementAsync(data, app)).Select(w => $"window {w.WindowId} {w.Shown} {w.ThumbsUp} {w.ThumbsDown} {w.Edited} {w.Copied}"));
        }
        return [.. rows.Order(StringComparer.Ordinal)];
    }

    /// <summary>One record as kcat would send it: a partition, a key, the value's bytes, and optionally a CreateTime of the sender's choosing.</summary>
    private sealed record Sent(int Partition, string Key, byte[] Value, DateTime? CreateTime = null)
    {
        public static Sent Of(int partition, FeedbackEvent evt) => new(partition, evt.SessionId, EventJson.SerializeToUtf8Bytes(evt));
    }
}
