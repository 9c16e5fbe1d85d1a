using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 10's single hostile events, produced as raw records into the embedded cluster the way kcat would, among
/// good sessions: the extractor keeps running, dead-letters the bad record with a fixed reason, and the good
/// records around it produce their rows.
/// </summary>
public sealed class HardeningTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task An_event_dated_at_the_end_of_time_is_dead_lettered_and_restarts_go_on()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        var good = KnownSessions.All();
        // Finding 1: this record crashed the loop with ArgumentOutOfRangeException, and every restart again. One copy
        // carries a forged CreateTime at the end of time too: the extractor's clock bounds the reference.
        harness.Produce(good.Take(good.Count / 2));
        harness.ProduceRaw([("evil", HostileRecords.Shown("evil", "9999-12-31T23:59:30Z"))]);
        ProduceWithTimestamp(harness, "evil-2", HostileRecords.Shown("evil-2", "9999-12-31T23:59:30Z", "hostile-2"), new DateTime(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc));
        harness.Produce(good.Skip(good.Count / 2));

        var first = await harness.ExtractAsync();
        var restart = await harness.ExtractAsync();

        Assert.Equal(2, first.Progress.DeadLettered);
        Assert.Equal(good.Count, first.Counters.EventsProcessed);
        var letters = harness.ReadDeadLetters();
        Assert.Equal(2, letters.Count);
        Assert.All(letters, l => Assert.Equal((EventTimeCheck.TooFarAheadReason, "occurred_at"), (l.Headers[ExtractionLoop.ReasonHeader], l.Headers[ExtractionLoop.FieldHeader])));
        Assert.Equal(0, restart.Progress.DeadLettered);
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedPairsBySignal, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
        Assert.NotEmpty(await DatasetReader.ReadEngagementAsync(harness.DataRoot, "demo"));
    }

    [Fact]
    public async Task Lone_surrogate_escapes_are_dead_lettered_with_a_fixed_reason_and_processing_goes_on()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        // Finding 2: each threw InvalidOperationException out of the parser; the loop died and its closing flush
        // committed past the record without a dead letter.
        var bad = HostileRecords.LoneSurrogates("s-bad").Select(b => (Key: "s-bad", b.Value, b.Field, b.Reason)).ToArray();
        var good = KnownSessions.All();
        harness.Produce(good.Take(3));
        harness.ProduceRaw(bad.Select(b => ((string?)b.Key, (byte[]?)Encoding.UTF8.GetBytes(b.Value))));
        harness.Produce(good.Skip(3));

        var loop = await harness.ExtractAsync();

        Assert.Equal(bad.Length, loop.Progress.DeadLettered);
        Assert.Equal(good.Count, loop.Counters.EventsProcessed);
        var letters = harness.ReadDeadLetters();
        foreach (var expected in bad)
        {
            var letter = Assert.Single(letters, l => Encoding.UTF8.GetString(l.Value ?? []) == expected.Value);
            Assert.Equal(expected.Reason, letter.Headers[ExtractionLoop.ReasonHeader]);
            Assert.Equal(expected.Field, letter.Headers[ExtractionLoop.FieldHeader]);
        }
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedPairsBySignal, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
    }

    [Fact]
    public async Task A_session_of_thousands_of_thumbs_writes_at_most_the_pair_budget()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        // Finding 4: 1,000 ups and 1,000 downs on one input made 250,000+ thumbs pairs from one session.
        var script = new SessionScript("demo", "s-flood", "u-flood", KnownSessions.Start);
        for (var i = 0; i < 1_000; i++) script.Shown($"f{i:D4}", "Same question", $"Answer {i}");
        for (var i = 0; i < 1_000; i++) script.Add(new ThumbGiven($"f{i:D4}", i % 2 == 0 ? ThumbValue.Up : ThumbValue.Down), TimeSpan.Zero);
        script.End();
        harness.Produce(script.Events);
        harness.Produce(KnownSessions.All());

        var loop = await harness.ExtractAsync();

        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        var budget = new ExtractionSettings().MaxPairsPerSessionPerRule;
        Assert.Equal(budget, pairs.Count(p => p.SessionId == "s-flood"));
        Assert.Equal(KnownSessions.ExpectedPairsBySignal.Values.Sum(), pairs.Count(p => p.SessionId != "s-flood"));
        Assert.Equal(1, loop.Counters.PairBudgetHits);
        Assert.Equal(PairSignals.Thumbs, Assert.Single(pairs.Where(p => p.SessionId == "s-flood").Select(p => p.Signal).Distinct()));
    }

    [Fact]
    public async Task A_record_whose_handling_throws_is_dead_lettered_as_an_internal_error_and_the_loop_goes_on()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        // A stand-in for a bug that one record triggers: the comparison rule's weight lookup throws, with user
        // text in the message, while the comparison.chosen record is applied.
        var options = harness.Options() with { Settings = new ExtractionSettings { Rules = RuleBook.Uniform(new AppRules(AppRules.Builtin.EnabledSignals, new ThrowingWeights(PairSignals.Comparison))) } };
        var loop = new ExtractionLoop(options, new DatasetStore(harness.DataRoot), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2))) await loop.RunAsync(timeout.Token);

        Assert.Equal(1, loop.Progress.DeadLetteredFor(EventRejectionKind.InternalError));
        var letter = Assert.Single(harness.ReadDeadLetters());
        Assert.Equal(ExtractionLoop.InternalErrorReason, letter.Headers[ExtractionLoop.ReasonHeader]);
        Assert.Equal("$", letter.Headers[ExtractionLoop.FieldHeader]);
        Assert.Contains("comparison.chosen", Encoding.UTF8.GetString(letter.Value ?? []), StringComparison.Ordinal);
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        var expected = KnownSessions.ExpectedPairsBySignal.Where(e => e.Key != PairSignals.Comparison).ToDictionary();
        Assert.Equal(expected, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
    }

    [Fact]
    public async Task Running_out_of_memory_while_a_record_is_applied_stops_the_loop_with_no_dead_letter_and_no_commit_past_it_so_a_restart_loses_nothing()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        harness.Produce(KnownSessions.All());
        // The same place as above, but the process's condition rather than the record's: a container at its memory limit.
#pragma warning disable CA2201 // The runtime's own exception, thrown where an allocation would throw it at a heap limit.
        var failing = harness.Options() with
        {
            Settings = new ExtractionSettings { Rules = RuleBook.Uniform(new AppRules(AppRules.Builtin.EnabledSignals, new ThrowingWeights(PairSignals.Comparison, () => new OutOfMemoryException()))) },
        };
#pragma warning restore CA2201
        var loop = new ExtractionLoop(failing, new DatasetStore(harness.DataRoot), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            await Assert.ThrowsAsync<OutOfMemoryException>(() => loop.RunAsync(timeout.Token));
        }
        Assert.Equal(0, loop.Progress.DeadLettered);
        Assert.Empty(harness.ReadDeadLetters());

        // The restart reads from what the failed loop committed: the comparison.chosen record again, so its pairs are there.
        var restart = new ExtractionLoop(harness.Options(), new DatasetStore(harness.DataRoot), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2))) await restart.RunAsync(timeout.Token);
        var pairs = await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedPairsBySignal, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
        Assert.Equal(pairs.Count, pairs.Select(p => p.PairId).Distinct(StringComparer.Ordinal).Count());
        Assert.Empty(harness.ReadDeadLetters());
    }

    /// <summary>Weights that throw for one signal (by default with a message that must never reach a header or log).</summary>
    private sealed class ThrowingWeights(string signal, Func<Exception>? exception = null) : IReadOnlyDictionary<string, double>
    {
        public double this[string key] => throw new KeyNotFoundException();
        public IEnumerable<string> Keys => [];
        public IEnumerable<double> Values => [];
        public int Count => 0;
        public bool ContainsKey(string key) => false;
        public IEnumerator<KeyValuePair<string, double>> GetEnumerator() => Enumerable.Empty<KeyValuePair<string, double>>().GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public bool TryGetValue(string key, out double value)
        {
            if (key == signal) throw exception?.Invoke() ?? new InvalidOperationException("user text: alice@example.com");
            value = 0;
            return false;
        }
    }

    private static void ProduceWithTimestamp(PipelineHarness harness, string key, byte[] value, DateTime timestamp)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = harness.Cluster.BootstrapServers, Acks = Acks.All }).Build();
        var report = producer.ProduceAsync(harness.Topic, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(key),
            Value = value,
            Timestamp = new Timestamp(timestamp, TimestampType.CreateTime),
        }).GetAwaiter().GetResult();
        Assert.Equal(PersistenceStatus.Persisted, report.Status);
    }
}
