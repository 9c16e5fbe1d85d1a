using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using Xunit.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 11, item 3 (ADR 0014): long sessions that interleave and never end, with malformed records among them, streamed
/// into <c>feedbackloop broker</c> while <c>feedbackloop extract</c> is killed with SIGKILL three times and started again.
/// Every pair and label is written once, every bad record is dead-lettered once, and what each restart re-reads is at most
/// the checkpoint interval, where committing at the oldest open session (the rule before checkpoints) would re-read
/// thousands of records.
/// </summary>
public sealed class BoundedReplayProcessTests(ITestOutputHelper output)
{
    private const int Partitions = 3;
    private const int CheckpointMaxRecords = 300;
    private const int Chunks = 4;
    private const int StepsPerChunk = 1_500;
    // A session sends one event every SessionStride steps (one step is one second of event time), and one starts every
    // SessionStart steps: about 40 sessions are open at any time, and each lives long past the records between checkpoints.
    private const int SessionStride = 40;
    private const int SessionStart = 5;
    private const int BadEvery = 37;

    [Fact]
    public async Task Three_SIGKILLs_mid_stream_write_every_row_and_dead_letter_once_and_each_restart_rereads_at_most_the_checkpoint_interval()
    {
        using var root = new TempFolder("bounded-replay");
        var data = root.Combine("data");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        // Checkpoints by record count only, so the bound is what is asserted; the time-based checkpoint would hide it.
        var environment = new Dictionary<string, string>
        {
            ["FeedbackLoop__Extraction__CheckpointMaxRecords"] = CheckpointMaxRecords.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FeedbackLoop__Extraction__CheckpointSeconds"] = "3600",
        };

        var (chunks, bad) = Stream();
        // The rules' rows on a clean run, and where the commit would stand if it waited for the oldest open session.
        var reference = new Extractor();
        var referenceOffsets = new long[Partitions];
        var ends = new long[Partitions];
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true, LingerMs = 5 }).Build();
        var rereads = new List<long>();
        var withoutCheckpoints = new List<long>();
        CliProcess? extract = null;
        try
        {
            for (var chunk = 0; chunk < Chunks; chunk++)
            {
                foreach (var record in chunks[chunk])
                {
                    var offset = Produce(producer, record);
                    ends[record.Partition] = offset + 1;
                    if (record.Event is { } evt) reference.Process(record.Partition, offset, evt);
                    referenceOffsets[record.Partition] = offset + 1;
                }
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
                if (chunk == Chunks - 1) break;

                extract ??= CliProcess.Start(environment, "extract", "--bootstrap", bootstrap, "--data", data);
                // Progress, not time: the chunk ends with a sentinel bad record on every partition, and once all three are in
                // the dead-letter topic the extractor has read every record produced so far.
                var sentinels = Enumerable.Range(0, Partitions).Select(p => Sentinel(chunk, p)).ToHashSet(StringComparer.Ordinal);
                await Eventually.HoldsAsync(() => sentinels.IsSubsetOf(DeadLetterValues(bootstrap)), TimeSpan.FromSeconds(90),
                    $"the extractor did not read chunk {chunk} to its end");
                extract.KillHard();
                extract.Dispose();
                extract = null;

                // The extractor had read to the end of every partition, and the restart reads from the committed offsets. The
                // rule before checkpoints committed the oldest offset an open session or window needs, as of a sweep at the end.
                for (var p = 0; p < Partitions; p++) reference.MarkCaughtUp(p);
                reference.Sweep();
                var reread = Enumerable.Range(0, Partitions).Sum(p => ends[p] - CommittedOffset(bootstrap, p));
                var oldestOpen = Enumerable.Range(0, Partitions).Sum(p => ends[p] - reference.CommittableOffset(p, referenceOffsets[p]));
                output.WriteLine($"kill {chunk + 1}: re-read from the checkpoints {reread}; from the oldest open session (before checkpoints) {oldestOpen}");
                rereads.Add(reread);
                withoutCheckpoints.Add(oldestOpen);
                extract = CliProcess.Start(environment, "extract", "--bootstrap", bootstrap, "--data", data);
                // The restarted instance reads the next chunk.
            }
            extract?.KillHard();
            extract?.Dispose();
            extract = null;

            using var last = CliProcess.Start(environment, "extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3");
            var exit = await last.ExitAsync(TimeSpan.FromMinutes(3));
            output.WriteLine(last.Output);
            Assert.True(exit == 0, $"exit {exit}:\n{last.Output}");
            Assert.Contains($"loaded {Partitions}, discarded 0", last.Output, StringComparison.Ordinal);
        }
        finally
        {
            extract?.Dispose();
        }

        Assert.Equal(Chunks - 1, rereads.Count);
        Assert.All(rereads, r => Assert.InRange(r, 0, CheckpointMaxRecords));
        Assert.All(withoutCheckpoints, r => Assert.True(r > 2 * CheckpointMaxRecords, $"the stream's sessions should hold a commit far back: {r}"));

        // Every bad record exactly once in the dead-letter topic.
        var letters = DeadLetterValues(bootstrap);
        Assert.Equal(bad.Order(StringComparer.Ordinal), letters.Order(StringComparer.Ordinal));

        // Every pair and label of the rules exactly once: the rows of sessions that timed out, by id.
        foreach (var partition in Enumerable.Range(0, Partitions)) reference.MarkCaughtUp(partition);
        reference.Sweep();
        var pairs = await DatasetReader.ReadPairsAsync(data, "demo");
        var labels = await DatasetReader.ReadLabelsAsync(data, "demo");
        Assert.NotEmpty(reference.Output.Pairs);
        Assert.NotEmpty(reference.Output.Labels);
        Assert.Equal(reference.Output.Pairs.Select(p => p.PairId).Order(StringComparer.Ordinal), pairs.Select(p => p.PairId).Order(StringComparer.Ordinal));
        Assert.Equal(reference.Output.Labels.Select(l => l.LabelId).Order(StringComparer.Ordinal), labels.Select(l => l.LabelId).Order(StringComparer.Ordinal));
        var windows = await DatasetReader.ReadEngagementAsync(data, "demo");
        Assert.Equal(windows.Count, windows.Select(w => w.WindowId).Distinct(StringComparer.Ordinal).Count());
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// The fall-back path: every partition's checkpoint damaged between two runs. The restart discards them (counted, by
    /// reason), re-reads from the oldest offset their sound headers name, and the open sessions that span the restart still
    /// make exactly the rules' rows, with no dead letter sent twice.
    /// </summary>
    [Fact]
    public async Task Damaged_checkpoints_are_discarded_and_the_state_is_rebuilt_by_re_reading_with_the_same_rows()
    {
        using var root = new TempFolder("bounded-replay-damaged");
        var data = root.Combine("data");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        var (chunks, _) = Stream();
        var reference = new Extractor();
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true, LingerMs = 5 }).Build();
        for (var chunk = 0; chunk < 2; chunk++)
        {
            foreach (var record in chunks[chunk])
            {
                var offset = Produce(producer, record);
                if (record.Event is { } evt) reference.Process(record.Partition, offset, evt);
            }
            if (chunk == 1) break;
            var first = await ExtractUntilIdleAsync(bootstrap, data);
            Assert.Contains($"loaded 0, discarded 0", first, StringComparison.Ordinal);
            var files = Directory.GetFiles(Path.Combine(data, "state", "extract", KafkaTopics.Events, "checkpoints"), "*.checkpoint");
            Assert.Equal(Partitions, files.Length);
            foreach (var file in files)
            {
                var bytes = File.ReadAllBytes(file);
                bytes[^1] ^= 0xFF;
                File.WriteAllBytes(file, bytes);
            }
        }

        var second = await ExtractUntilIdleAsync(bootstrap, data);
        Assert.Contains($"loaded 0, discarded {Partitions} (corrupt {Partitions})", second, StringComparison.Ordinal);
        // The re-read started before the committed offsets, at the oldest open sessions.
        Assert.DoesNotContain("replayed 0", second, StringComparison.Ordinal);
        Assert.Equal(chunks[0].Concat(chunks[1]).Where(r => r.Event is null).Select(r => r.Bad!).Order(StringComparer.Ordinal),
            DeadLetterValues(bootstrap).Order(StringComparer.Ordinal));

        for (var p = 0; p < Partitions; p++) reference.MarkCaughtUp(p);
        reference.Sweep();
        Assert.NotEmpty(reference.Output.Pairs);
        Assert.Equal(reference.Output.Pairs.Select(p => p.PairId).Order(StringComparer.Ordinal),
            (await DatasetReader.ReadPairsAsync(data, "demo")).Select(p => p.PairId).Order(StringComparer.Ordinal));
        Assert.Equal(reference.Output.Labels.Select(l => l.LabelId).Order(StringComparer.Ordinal),
            (await DatasetReader.ReadLabelsAsync(data, "demo")).Select(l => l.LabelId).Order(StringComparer.Ordinal));
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    private static async Task<string> ExtractUntilIdleAsync(string bootstrap, string data)
    {
        using var extract = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3");
        var exit = await extract.ExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");
        return extract.Output;
    }

    /// <summary>
    /// The stream, cut into chunks: sessions that start every few steps and never send session.ended (they end by the
    /// 30-minute timeout as event time moves on), a malformed record every <see cref="BadEvery"/> steps, and a sentinel
    /// malformed record per partition at the end of each chunk. Returns the bad records' values too.
    /// </summary>
    private static (List<Record>[] Chunks, List<string> Bad) Stream()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-6);
        var chunks = Enumerable.Range(0, Chunks).Select(_ => new List<Record>()).ToArray();
        var bad = new List<string>();
        var sessions = new List<(int Opened, int Partition, List<EventData> Script, string Id)>();
        var total = Chunks * StepsPerChunk;
        for (var step = 0; step < total; step++)
        {
            var chunk = chunks[step / StepsPerChunk];
            if (step % SessionStart == 0 && step < total - 400)
            {
                var n = sessions.Count;
                sessions.Add((step, n % Partitions, Script(n), $"s-{n:D4}"));
            }
            foreach (var (opened, partition, script, id) in sessions)
            {
                var age = step - opened;
                if (age % SessionStride != 0 || age / SessionStride >= script.Count) continue;
                var index = age / SessionStride;
                chunk.Add(new Record(partition, id, new FeedbackEvent($"{id}-e{index}", "demo", id, "u-" + id, start.AddSeconds(step), script[index])));
            }
            if (step % BadEvery == 0)
            {
                var value = $"not json {step}";
                bad.Add(value);
                chunk.Add(new Record(step % Partitions, $"bad-{step}", null, value));
            }
            if ((step + 1) % StepsPerChunk == 0 && step + 1 < total)
            {
                for (var p = 0; p < Partitions; p++)
                {
                    bad.Add(Sentinel(step / StepsPerChunk, p));
                    chunk.Add(new Record(p, "sentinel", null, Sentinel(step / StepsPerChunk, p)));
                }
            }
        }
        return (chunks, bad);
    }

    /// <summary>One session's events: two answers to one question thumbed up and down, a regenerated answer copied, a rating.</summary>
    private static List<EventData> Script(int n)
    {
        var prompt = SessionScript.Prompt($"Question {n}?");
        return
        [
            new GenerationShown($"g{n}-a", "m1", prompt, $"Answer A{n}", Variant: "a"),
            new GenerationShown($"g{n}-b", "m1", prompt, $"Answer B{n}", Variant: "a"),
            new ThumbGiven($"g{n}-a", ThumbValue.Up),
            new ThumbGiven($"g{n}-b", ThumbValue.Down),
            new GenerationRegenerated($"g{n}-b", $"g{n}-c"),
            new GenerationShown($"g{n}-c", "m1", prompt, $"Answer C{n}", Variant: "a"),
            new GenerationCopied($"g{n}-c"),
            new RatingGiven($"g{n}-c", 5),
        ];
    }

    private static string Sentinel(int chunk, int partition) => $"sentinel {chunk} {partition}";

    private static long Produce(IProducer<byte[]?, byte[]?> producer, Record record)
    {
        var value = record.Event is { } evt ? EventJson.SerializeToUtf8Bytes(evt) : Encoding.UTF8.GetBytes(record.Bad!);
        // One at a time, awaited: the reference extractor needs each record's offset, and the stream is a few thousand records.
        var result = producer.ProduceAsync(new TopicPartition(KafkaTopics.Events, record.Partition),
            new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(record.Key), Value = value }).GetAwaiter().GetResult();
        return result.Offset.Value;
    }

    private static List<string> DeadLetterValues(string bootstrap) =>
        [.. HostileRecords.ReadDeadLetters(bootstrap, KafkaTopics.DeadLetters).Select(l => Encoding.UTF8.GetString(l.Value ?? []))];

    /// <summary>The extractors' group's committed offset on one partition of the events topic (0 when none).</summary>
    private static long CommittedOffset(string bootstrap, int partition)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "feedbackloop-extractors", EnableAutoCommit = false }).Build();
        var committed = Assert.Single(consumer.Committed([new TopicPartition(KafkaTopics.Events, partition)], TimeSpan.FromSeconds(10)));
        return committed.Offset.IsSpecial ? 0 : committed.Offset.Value;
    }

    private sealed record Record(int Partition, string Key, FeedbackEvent? Event, string? Bad = null);
}
