using System.Text;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Parsing records ahead on a second thread (<see cref="ExtractionLoopOptions.ReadAheadRecords"/>) changes nothing the
/// extractor writes: the same records, valid sessions with malformed records between them over several partitions, give
/// the same rows, the same dead letters (same sources, same reasons) and the same counters as parsing each record inline.
/// </summary>
public sealed class ReadAheadTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private const string App = "demo";
    private const int Sessions = 2_000;

    [Theory]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(512)]
    public async Task Parsing_ahead_writes_the_rows_dead_letters_and_counts_that_parsing_inline_writes(int readAhead)
    {
        using var inline = new PipelineHarness(fixture.Cluster, partitions: 4);
        using var ahead = new PipelineHarness(fixture.Cluster, partitions: 4);
        var records = Records();
        inline.ProduceRaw(records);
        ahead.ProduceRaw(records);

        var inlineLoop = await ExtractAsync(inline, readAhead: 1);
        var aheadLoop = await ExtractAsync(ahead, readAhead);

        Assert.Equal(records.Count, aheadLoop.Progress.RecordsRead);
        Assert.Equal(inlineLoop.Progress.RecordsRead, aheadLoop.Progress.RecordsRead);
        Assert.Equal(inlineLoop.Counters.EventsProcessed, aheadLoop.Counters.EventsProcessed);
        Assert.Equal(inlineLoop.Counters.PairsEmitted, aheadLoop.Counters.PairsEmitted);
        Assert.Equal(inlineLoop.Counters.LabelsEmitted, aheadLoop.Counters.LabelsEmitted);
        Assert.Equal(inlineLoop.Counters.EngagementWindowsClosed, aheadLoop.Counters.EngagementWindowsClosed);
        foreach (var kind in Enum.GetValues<EventRejectionKind>()) Assert.Equal(inlineLoop.Progress.DeadLetteredFor(kind), aheadLoop.Progress.DeadLetteredFor(kind));
        Assert.Equal(records.Count - SyntheticTraffic.Sessions(Sessions, App).Count(), aheadLoop.Progress.DeadLettered);

        Assert.Equal(Ids(await DatasetReader.ReadPairsAsync(inline.DataRoot, App), p => p.PairId), Ids(await DatasetReader.ReadPairsAsync(ahead.DataRoot, App), p => p.PairId));
        Assert.Equal(Ids(await DatasetReader.ReadLabelsAsync(inline.DataRoot, App), l => l.LabelId), Ids(await DatasetReader.ReadLabelsAsync(ahead.DataRoot, App), l => l.LabelId));
        Assert.Equal((await DatasetReader.ReadEngagementAsync(inline.DataRoot, App)).OrderBy(w => w.WindowId, StringComparer.Ordinal),
            (await DatasetReader.ReadEngagementAsync(ahead.DataRoot, App)).OrderBy(w => w.WindowId, StringComparer.Ordinal));
        Assert.NotEmpty(await DatasetReader.ReadPairsAsync(ahead.DataRoot, App));

        // Same source offsets (the topics differ only in name, and the keys place records on the same partitions), same reasons.
        Assert.Equal(DeadLetters(inline), DeadLetters(ahead));
        // Each dead letter carries its record's own key and value: they are copied out of the pooled blocks that later
        // records reuse (RecordBlocks), so a block given back too early would show here as another record's bytes.
        var refused = Carried(records.Where(r => Hostile().Any(h => h.Key == r.Key && h.Value.AsSpan().SequenceEqual(r.Value))));
        Assert.Equal(records.Count - SyntheticTraffic.Sessions(Sessions, App).Count(), refused.Count);
        Assert.Equal(refused, Carried(inline.ReadDeadLetters().Select(l => (l.Key, l.Value))));
        Assert.Equal(refused, Carried(ahead.ReadDeadLetters().Select(l => (l.Key, l.Value))));
    }

    [Fact]
    public async Task A_batch_of_large_records_stops_at_the_byte_bound_and_writes_what_parsing_inline_writes()
    {
        // Records of about 20 KB (a long output in every shown generation): 512 of them would be 10 MB in one batch.
        const long Bound = 64 * 1024;
        using var inline = new PipelineHarness(fixture.Cluster, partitions: 2);
        using var ahead = new PipelineHarness(fixture.Cluster, partitions: 2);
        var records = SyntheticTraffic.Sessions(300, App)
            .Select(evt => evt.Data is GenerationShown shown ? evt with { Data = shown with { Output = shown.Output + new string('x', 20_000) } } : evt)
            .Select(evt => ((string?)evt.SessionId, (byte[]?)EventJson.SerializeToUtf8Bytes(evt)))
            .ToList();
        var largest = records.Max(r => r.Item1!.Length + r.Item2!.Length);
        inline.ProduceRaw(records);
        ahead.ProduceRaw(records);

        var inlineLoop = await ExtractAsync(inline, readAhead: 1);
        var aheadLoop = await ExtractAsync(ahead, readAhead: 512, readAheadBytes: Bound);

        Assert.InRange(aheadLoop.ReadAheadLargestBatchBytes, largest, Bound - 1 + largest);
        Assert.Equal(records.Count, aheadLoop.Progress.RecordsRead);
        Assert.Equal(inlineLoop.Counters.PairsEmitted, aheadLoop.Counters.PairsEmitted);
        Assert.Equal(Ids(await DatasetReader.ReadPairsAsync(inline.DataRoot, App), p => p.PairId), Ids(await DatasetReader.ReadPairsAsync(ahead.DataRoot, App), p => p.PairId));
        Assert.Equal(Ids(await DatasetReader.ReadLabelsAsync(inline.DataRoot, App), l => l.LabelId), Ids(await DatasetReader.ReadLabelsAsync(ahead.DataRoot, App), l => l.LabelId));
    }

    private static async Task<ExtractionLoop> ExtractAsync(PipelineHarness harness, int readAhead, long readAheadBytes = 4L * 1024 * 1024)
    {
        var loop = new ExtractionLoop(harness.Options() with { ReadAheadRecords = readAhead, ReadAheadBytes = readAheadBytes }, new DatasetStore(harness.DataRoot), NullLogger.Instance);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await loop.RunAsync(timeout.Token);
        return loop;
    }

    /// <summary>About 11,000 valid events of 2,000 sessions with a malformed record after every 97th.</summary>
    private static List<(string? Key, byte[]? Value)> Records()
    {
        var hostile = Hostile();
        var records = new List<(string?, byte[]?)>();
        var n = 0;
        foreach (var evt in SyntheticTraffic.Sessions(Sessions, App))
        {
            records.Add((evt.SessionId, EventJson.SerializeToUtf8Bytes(evt)));
            if (++n % 97 == 0) records.Add(hostile[n / 97 % hostile.Count]);
        }
        return records;
    }

    /// <summary>One record of each kind of fault the parser refuses, and a key that does not match its session.</summary>
    private static List<(string? Key, byte[]? Value)> Hostile()
    {
        var valid = Encoding.UTF8.GetString(HostileRecords.Shown("s-bad", "2026-01-01T00:00:00Z"));
        return
        [
            ("s-bad", Encoding.UTF8.GetBytes("{not json")),
            ("s-bad", []),
            ("s-bad", Encoding.UTF8.GetBytes(valid.Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal))),
            ("s-bad", Encoding.UTF8.GetBytes(valid.Replace("generation.shown", "generation.unknown", StringComparison.Ordinal))),
            .. HostileRecords.LoneSurrogates("s-bad").Select(r => ((string?)"s-bad", (byte[]?)Encoding.UTF8.GetBytes(r.Value))),
            ("another-session", HostileRecords.Shown("s-bad", "2026-01-01T00:00:00Z")),
        ];
    }

    private static List<string> Ids<T>(IEnumerable<T> rows, Func<T, string> id) => [.. rows.Select(id).Order(StringComparer.Ordinal)];

    private static List<string> Carried(IEnumerable<(string? Key, byte[]? Value)> records) =>
        [.. records.Select(r => $"{r.Key} {Convert.ToHexString(r.Value ?? [])}").Order(StringComparer.Ordinal)];

    private static List<string> DeadLetters(PipelineHarness harness) =>
        [.. harness.ReadDeadLetters()
            .Select(l => $"{l.Headers[ExtractionLoop.SourceHeader][harness.Topic.Length..]} {l.Headers[ExtractionLoop.FieldHeader]}: {l.Headers[ExtractionLoop.ReasonHeader]}")
            .Order(StringComparer.Ordinal)];
}
