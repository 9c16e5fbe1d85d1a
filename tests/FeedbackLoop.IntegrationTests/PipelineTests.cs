using System.Security.Cryptography;
using DuckDB.NET.Data;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>SDK → embedded Kafka → extractors → Parquet, with every piece real.</summary>
public sealed class PipelineTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task Sdk_events_become_the_pairs_labels_and_engagement_the_rules_define()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        var events = KnownSessions.All();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "demo" }, new KafkaFeedbackTransport(fixture.Cluster.BootstrapServers, harness.Topic)))
        {
            foreach (var evt in events) Assert.True(client.Track(evt));
            Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(events.Count, client.Counters.Sent);
        }

        var loop = await harness.ExtractAsync();

        Assert.Equal(events.Count, loop.Counters.EventsProcessed);
        Assert.Equal(0, loop.Progress.DeadLettered);
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedPairsBySignal, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
        Assert.Equal(pairs.Count, pairs.Select(p => p.PairId).Distinct().Count());
        var comparison = pairs.Where(p => p.Signal == PairSignals.Comparison).ToList();
        Assert.All(comparison, p => Assert.Equal("Green", p.Chosen.Content));
        Assert.Equal(["Blue", "Mauve"], comparison.Select(p => p.Rejected.Content).Order());
        var regenerate = pairs.Where(p => p.Signal == PairSignals.Regenerate).ToList();
        Assert.All(regenerate, p => Assert.Equal("r-3", p.ChosenGenerationId));
        var edit = Assert.Single(pairs, p => p.Signal == PairSignals.Edit);
        Assert.Equal("Hi team, welcome to our weekly planning sync!", edit.Chosen.Content);
        Assert.Equal(PreferencePair.UserEditModelVersion, edit.ChosenModelVersion);

        var labels = await DatasetReader.ReadLabelsAsync(harness.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedLabels, labels.Count);
        Assert.Equal([("c-b", true), ("t-1", false), ("t-2", true), ("t-3", false)],
            labels.Select(l => (l.GenerationId, l.Label)).OrderBy(l => l.GenerationId, StringComparer.Ordinal));

        // One row per window and partition: the window's counts are their sum; its one dwell value is in one row.
        var totals = await DatasetReader.ReadEngagementTotalsAsync(harness.DataRoot, "demo");
        var nine = Assert.Single(totals, w => w.WindowStart == KnownSessions.Start);
        Assert.Equal(10, nine.Shown);
        Assert.Equal(2, nine.ThumbsUp);
        Assert.Equal(1, nine.ThumbsDown);
        Assert.Equal(1, nine.DwellSamples);
        var windows = await DatasetReader.ReadEngagementAsync(harness.DataRoot, "demo");
        Assert.Equal(1200, Assert.Single(windows, w => w.WindowStart == KnownSessions.Start && w.DwellSamples > 0).DwellP50Ms);
    }

    [Fact]
    public async Task The_parquet_files_read_the_same_in_an_independent_reader()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        await harness.ExtractAsync();

        var folder = DatasetPaths.Folder(harness.DataRoot, "demo", DatasetKinds.PreferencePairs);
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT count(*), count(DISTINCT pair_id),
                   count(*) FILTER (WHERE signal = 'comparison' AND chosen[1].content = 'Green' AND chosen[1].role = 'assistant'),
                   min(prompt[1].content) FILTER (WHERE signal = 'regenerate'),
                   typeof(min(created_at))
            FROM read_parquet('{folder}/*.parquet')
            """;
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(6L, reader.GetInt64(0));
        Assert.Equal(6L, reader.GetInt64(1));
        Assert.Equal(2L, reader.GetInt64(2));
        Assert.Equal("Tell a joke", reader.GetString(3));
        Assert.StartsWith("TIMESTAMP", reader.GetString(4), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_records_are_dead_lettered_with_their_bytes_and_a_reason_and_processing_goes_on()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        var valid = new SessionScript("demo", "s-ok", "u1", KnownSessions.Start)
            .Shown("g1", "Q", "A1", "set").Shown("g2", "Q", "A2", "set").Add(new ComparisonChosen("set", "g1")).End().Events;
        var oversized = EventJson.SerializeToUtf8Bytes(new FeedbackEvent("big", "demo", "s-bad", "u1", KnownSessions.Start,
            new GenerationShown("gx", "m1", SessionScript.Prompt("Q"), new string('x', 40_000))));
        var wrongKey = EventJson.SerializeToUtf8Bytes(valid[0] with { EventId = "wrong-key" });
        var bad = new (string Key, byte[]? Value, string Field)[]
        {
            ("s-bad", "not json"u8.ToArray(), "$"),
            ("s-bad", """{"event_id":"x","type":"generation.teleported","v":1,"app_id":"demo","session_id":"s-bad","user_id":"u","occurred_at":"2026-03-01T09:00:00Z","data":{}}"""u8.ToArray(), "type"),
            ("s-bad", """{"event_id":"x","type":"feedback.thumb","v":1,"app_id":"demo","session_id":"s-bad","user_id":"u","occurred_at":"2026-03-01T09:00:00Z","data":{"value":"up"}}"""u8.ToArray(), "data.generation_id"),
            ("s-bad", oversized, "$"),
            ("someone-else", wrongKey, "key"),
            ("s-bad", null, "$"),
        };
        harness.ProduceRaw(bad.Select(b => ((string?)b.Key, b.Value)).Concat(valid.Select(e => ((string?)e.SessionId, (byte[]?)EventJson.SerializeToUtf8Bytes(e)))));

        var loop = await harness.ExtractAsync();

        Assert.Equal(bad.Length, loop.Progress.DeadLettered);
        var letters = harness.ReadDeadLetters();
        Assert.Equal(bad.Length, letters.Count);
        foreach (var expected in bad)
        {
            var letter = Assert.Single(letters, l => (l.Value ?? []).AsSpan().SequenceEqual(expected.Value ?? []) && l.Key == expected.Key);
            Assert.Equal(expected.Field, letter.Headers["fl.field"]);
            Assert.False(string.IsNullOrWhiteSpace(letter.Headers["fl.reason"]));
            Assert.StartsWith(harness.Topic + "/", letter.Headers["fl.source"], StringComparison.Ordinal);
        }
        Assert.Contains("32768", Assert.Single(letters, l => l.Value?.Length > 32768).Headers["fl.reason"], StringComparison.Ordinal);
        Assert.Single(await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo"));
    }

    [Fact]
    public async Task Running_extract_twice_or_replaying_the_topic_adds_nothing()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        harness.ProduceRaw([("s-bad", "not json"u8.ToArray())]);
        await harness.ExtractAsync();
        var before = Snapshot(harness.DataRoot);

        var again = await harness.ExtractAsync();
        var replay = await harness.ExtractAsync(group: "a-new-group-replays-everything");

        Assert.Equal(before, Snapshot(harness.DataRoot));
        Assert.Equal(0, again.Progress.PairsWritten + again.Progress.LabelsWritten + again.Progress.WindowsWritten);
        Assert.Equal(0, replay.Progress.PairsWritten + replay.Progress.LabelsWritten + replay.Progress.WindowsWritten);
        Assert.True(replay.Progress.RowsAlreadyPresent > 0);
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        Assert.Equal(pairs.Count, pairs.Select(p => p.PairId).Distinct().Count());
        // The same group re-read only what open state needed, and re-sent no dead letter.
        Assert.Single(harness.ReadDeadLetters());
    }

    [Fact]
    public async Task A_crash_between_writing_files_and_committing_offsets_loses_and_duplicates_nothing()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        var cleanRoot = Path.Combine(harness.DataRoot, "clean");
        await harness.ExtractAsync(group: "clean-run", dataRoot: cleanRoot);

        var crashingRoot = Path.Combine(harness.DataRoot, "crashing");
        var crash = new CrashAfterWrite(new DatasetStore(crashingRoot));
        await Assert.ThrowsAsync<SimulatedCrashException>(() => harness.ExtractAsync(group: "crashing", dataRoot: crashingRoot, sink: crash));
        Assert.True(crash.RowsWrittenBeforeCrash > 0);

        // The restarted process starts from the last commit (none) with a fresh store over the same folder.
        var restarted = await harness.ExtractAsync(group: "crashing", dataRoot: crashingRoot);

        Assert.True(restarted.Progress.RowsAlreadyPresent >= crash.RowsWrittenBeforeCrash);
        foreach (var read in new Func<string, Task<IReadOnlyList<string>>>[]
                 {
                     async root => (await DatasetReader.ReadPairsAsync(root, "demo")).Select(p => p.PairId).ToList(),
                     async root => (await DatasetReader.ReadLabelsAsync(root, "demo")).Select(l => l.LabelId).ToList(),
                     async root => (await DatasetReader.ReadEngagementAsync(root, "demo")).Select(w => w.WindowId).ToList(),
                 })
        {
            var clean = await read(cleanRoot);
            var recovered = await read(crashingRoot);
            Assert.NotEmpty(clean);
            Assert.Equal(clean.Order(StringComparer.Ordinal), recovered.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_write_that_fails_once_stops_the_loop_and_a_restart_loses_nothing()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        var cleanRoot = Path.Combine(harness.DataRoot, "clean");
        await harness.ExtractAsync(group: "clean-run", dataRoot: cleanRoot);

        var flakyRoot = Path.Combine(harness.DataRoot, "flaky");
        // The first write with rows fails (a full disk, say) and later ones succeed: the loop must stop
        // without committing offsets over the rows it could not write, and the next run must redo them.
        var flaky = new FailFirstWrite(new DatasetStore(flakyRoot));
        await Assert.ThrowsAsync<IOException>(() => harness.ExtractAsync(group: "flaky", dataRoot: flakyRoot, sink: flaky));

        await harness.ExtractAsync(group: "flaky", dataRoot: flakyRoot);

        await AssertSamePairsAndLabelsAsync(cleanRoot, flakyRoot);
    }

    [Fact]
    public async Task A_checkpoint_written_beside_rows_that_failed_is_never_loaded()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        var cleanRoot = Path.Combine(harness.DataRoot, "clean");
        await harness.ExtractAsync(group: "clean-run", dataRoot: cleanRoot);

        // One flush only, the final one, which always checkpoints: its rows fail while its checkpoints are written beside
        // them (ExtractionLoop.WriteCheckpointsBesideAsync), so those checkpoints reach the disk for an offset never committed.
        var root = Path.Combine(harness.DataRoot, "failed");
        var options = harness.Options("failed", root) with { FlushInterval = TimeSpan.FromHours(1) };
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            var failing = new ExtractionLoop(options, new FailFirstWrite(new DatasetStore(root)), NullLogger.Instance);
            await Assert.ThrowsAsync<IOException>(() => failing.RunAsync(timeout.Token));
        }
        Assert.NotEmpty(Directory.EnumerateFiles(options.StateDirectory, "*.checkpoint", SearchOption.AllDirectories));

        // The restart starts where the group committed (nowhere), rebuilds the state by reading, and writes every row.
        var restarted = await harness.ExtractAsync(group: "failed", dataRoot: root);
        Assert.Equal(0, restarted.Progress.CheckpointsLoaded);
        await AssertSamePairsAndLabelsAsync(cleanRoot, root);
    }

    [Fact]
    public async Task A_restart_restores_a_large_de_duplication_window_from_its_base_file_and_the_ids_added_since()
    {
        // One partition whose window passes the size from which it is kept in a base file beside the checkpoints.
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        FeedbackEvent Ended(int n) => new(new Guid(n, 0x7000, 0x0800, 1, 2, 3, 4, 5, 6, 7, 8).ToString("D"), "demo", $"s-{n}", "u1", now.AddMilliseconds(n), SessionEnded.Instance);
        var first = Extractor.WindowBaseFrom + 500;
        harness.Produce(Enumerable.Range(0, first).Select(Ended));
        var firstRun = await harness.ExtractAsync(group: "window");
        Assert.Equal(first, firstRun.Progress.EventsProcessed);
        var folder = Directory.EnumerateDirectories(Path.Combine(harness.DataRoot, "state", "extract"), "checkpoints", SearchOption.AllDirectories).Single();
        var bases = Directory.EnumerateFiles(folder, "partition-0-window-*.ids").ToList();
        Assert.Single(bases);

        // Sent again: ids from the base's oldest to the newest, and new ones. The window must know every old one.
        harness.Produce(Enumerable.Range(0, 300).Select(Ended).Concat(Enumerable.Range(first - 300, 300).Select(Ended)).Concat(Enumerable.Range(first, 200).Select(Ended)));
        var restarted = await harness.ExtractAsync(group: "window");

        Assert.Equal(1, restarted.Progress.CheckpointsLoaded);
        Assert.Equal((600, 200), (restarted.Progress.DuplicateEvents, restarted.Progress.EventsProcessed));
        // After its commit, the partition keeps one checkpoint and the one base it refers to: 200 ids did not need a new one.
        Assert.Equal([.. bases.Select(Path.GetFileName)], Directory.EnumerateFiles(folder, "partition-0-window-*.ids").Select(Path.GetFileName));
        Assert.Single(Directory.EnumerateFiles(folder, "partition-0-*.checkpoint"));
    }

    /// <summary>The recovered folder holds exactly the clean run's pairs and labels (by id), and the clean run has some.</summary>
    private static async Task AssertSamePairsAndLabelsAsync(string cleanRoot, string recoveredRoot)
    {
        var clean = (await DatasetReader.ReadPairsAsync(cleanRoot, "demo")).Select(p => p.PairId).Order(StringComparer.Ordinal).ToList();
        var recovered = (await DatasetReader.ReadPairsAsync(recoveredRoot, "demo")).Select(p => p.PairId).Order(StringComparer.Ordinal);
        Assert.NotEmpty(clean);
        Assert.Equal(clean, recovered);
        var cleanLabels = (await DatasetReader.ReadLabelsAsync(cleanRoot, "demo")).Select(l => l.LabelId).Order(StringComparer.Ordinal);
        var recoveredLabels = (await DatasetReader.ReadLabelsAsync(recoveredRoot, "demo")).Select(l => l.LabelId).Order(StringComparer.Ordinal);
        Assert.Equal(cleanLabels, recoveredLabels);
    }

    /// <summary>File names and content hashes of every dataset file.</summary>
    private static SortedDictionary<string, string> Snapshot(string root)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "datasets"), "*", SearchOption.AllDirectories))
            files[Path.GetRelativePath(root, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        return files;
    }

    /// <summary>The real store writes the files durably, then the "process dies" before offsets are committed.</summary>
    private sealed class CrashAfterWrite(DatasetStore store) : IExtractionSink
    {
        public int RowsWrittenBeforeCrash { get; private set; }

        public async Task<ExtractionWriteResult> WriteAsync(ExtractionOutput output, CancellationToken cancellationToken = default)
        {
            var result = await store.WriteAsync(output, cancellationToken);
            RowsWrittenBeforeCrash += result.PairsWritten + result.LabelsWritten + result.WindowsWritten;
            if (RowsWrittenBeforeCrash > 0) throw new SimulatedCrashException();
            return result;
        }
    }

    private sealed class SimulatedCrashException() : Exception("simulated crash after the write, before the commit");

    /// <summary>The real store, except that the first write with rows fails before touching the disk.</summary>
    private sealed class FailFirstWrite(DatasetStore store) : IExtractionSink
    {
        private int _failed;

        public Task<ExtractionWriteResult> WriteAsync(ExtractionOutput output, CancellationToken cancellationToken = default)
        {
            if (!output.IsEmpty && Interlocked.Exchange(ref _failed, 1) == 0) throw new IOException("simulated: no space left on device");
            return store.WriteAsync(output, cancellationToken);
        }
    }
}
