using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Nothing lost silently (issue 11): records the broker deleted before the extractor read them are counted, logged,
/// exported and fail a batch run; and progress marks from another cluster never make new records look like a replay.
/// The embedded cluster keeps about 5 MiB per partition and deletes the oldest records past it, which is exactly the
/// retention a lagging group meets on a real cluster.
/// </summary>
public sealed class RecordLossTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    // Past the embedded cluster's ~5 MiB per partition, so its oldest records are deleted before anyone reads them.
    private const int OverflowRecords = 8_000;
    private const int RecordBytes = 1_000;

    [Theory]
    // need, mark, got, log start → lost [from, to) or none
    [InlineData(0, 0, 0, 0, null, null)]            // a fresh start at the beginning
    [InlineData(10, 0, 11, 10, null, null)]         // one offset skipped (a transaction marker): still retained start, nothing lost
    [InlineData(10, 0, 15, 0, null, null)]          // a jump over compacted records: the log starts before it
    [InlineData(0, 0, 500, 500, 0, 500)]          // a new group finds the first 500 deleted
    [InlineData(100, 0, 700, 650, 100, 650)]      // a lagging group: deleted up to the log start; 650..699 were skipped otherwise
    [InlineData(100, 400, 700, 700, 400, 700)]    // below the mark the folder handled them already: only the rest counts
    [InlineData(100, 800, 700, 700, null, null)]    // all handled before (a replay over deleted records)
    [InlineData(100, 0, 700, null, null, null)]     // no log start known: no claim
    [InlineData(300, 0, 200, 250, null, null)]      // offsets went backwards (a reset): nothing to report here
    public void A_jump_is_a_loss_only_over_offsets_below_the_log_start_that_the_folder_had_not_handled(
        int need, int mark, int got, int? logStart, int? from, int? to)
    {
        var lost = RecordLoss.Find(3, need, mark, got, logStart);

        Assert.Equal(from is null ? null : new LostRange(3, from.Value, to!.Value), lost);
    }

    [Fact]
    public async Task A_group_that_lags_behind_retention_counts_logs_and_exports_what_it_never_read()
    {
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        harness.ProduceRaw(Garbage(0, 100));
        var first = await harness.ExtractAsync();
        Assert.Equal(100, first.Progress.RecordsRead);
        Assert.Equal(0, first.Progress.RecordsLost);

        // While no extractor runs, the backlog grows past what the partition keeps.
        harness.ProduceRaw(Garbage(100, OverflowRecords));
        var logStart = LogStart(fixture.Cluster, harness.Topic);
        Assert.True(logStart > 100, $"the cluster kept everything (log start {logStart}); the test needs more data to overflow it");

        using var meters = new ScopedMeterFactory();
        var lostMetric = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == "feedbackloop.extraction.records_lost") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (tags.ToArray() is [{ Key: "partition", Value: 0 }]) Interlocked.Exchange(ref lostMetric, value);
        });
        listener.Start();
        var logger = new CapturingLogger();
        var second = new ExtractionLoop(harness.Options() with { MeterFactory = meters, UntilIdle = null }, new DatasetStore(harness.DataRoot), logger);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var running = second.RunAsync(stop.Token);
        // The meter lives as long as the loop runs, so the reading is taken while it does.
        Assert.True(await Eventually.TrueAsync(() =>
        {
            listener.RecordObservableInstruments();
            return second.Progress.RecordsRead == 100 + OverflowRecords - logStart && Interlocked.Read(ref lostMetric) > 0;
        }, TimeSpan.FromMinutes(1)), $"read {second.Progress.RecordsRead}, metric {Interlocked.Read(ref lostMetric)}");
        await stop.CancelAsync();
        await running;

        Assert.True(logStart - 100 == second.Progress.RecordsLost,
            $"lost {second.Progress.RecordsLost}, read {second.Progress.RecordsRead}, log start {logStart}:\n" + string.Join("\n", logger.Lines.Where(l => !l.Contains("Dead-lettered", StringComparison.Ordinal))));
        Assert.Equal([new KeyValuePair<int, long>(0, logStart - 100)], second.Progress.RecordsLostByPartition);
        Assert.Equal(logStart - 100, Interlocked.Read(ref lostMetric));
        Assert.Equal(100 + OverflowRecords - logStart, second.Progress.RecordsRead);
        Assert.Contains(logger.Lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains($"offsets 100 to {logStart - 1}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Extract_until_idle_over_a_partition_that_overflowed_reports_the_lost_range_and_exits_non_zero()
    {
        using var folder = new TempFolder("loss");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "1");
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        // Stdout and stderr are read separately: the warning may be read a moment after the bootstrap line.
        Assert.True(await Eventually.TrueAsync(() => broker.ErrorLines.Take(1).Any(l => l.Contains("in memory only, about 5 MiB", StringComparison.Ordinal)), TimeSpan.FromSeconds(30)),
            $"the broker's first stderr line is not the in-memory warning: {string.Join(" | ", broker.ErrorLines)}");
        Produce(bootstrap, KafkaTopics.Events, Garbage(0, OverflowRecords));
        var logStart = LogStart(bootstrap, KafkaTopics.Events);
        Assert.True(logStart > 0, "the cluster kept everything; the test needs more data to overflow it");

        using var extract = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", folder.Path, "--until-idle", "2");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));

        Assert.True(exit == ExtractCommand.RecordsLostExitCode, $"exit {exit}:\n{extract.Output}");
        Assert.Contains($"records lost before they were read: {logStart} (partition 0: {logStart})", extract.Output, StringComparison.Ordinal);
        Assert.Contains($"offsets 0 to {logStart - 1}", extract.Output, StringComparison.Ordinal);
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task After_the_cluster_is_replaced_under_a_data_folder_bad_records_are_still_dead_lettered()
    {
        var topic = "events-reset-" + Guid.NewGuid().ToString("N");
        using var before = new PipelineHarness(fixture.Cluster, partitions: 1, topic: topic);
        before.ProduceRaw(Sessions("old"));
        var first = await before.ExtractAsync();
        Assert.Equal(1, first.Progress.DeadLettered);

        // A new cluster (a broker reset, or the embedded one restarted): the same topic, offsets from 0 again, and the
        // old data folder, whose progress mark says offsets below 10 were handled.
        using var cluster = EmbeddedKafkaCluster.Start(brokers: 3);
        using var after = new PipelineHarness(cluster, partitions: 1, topic: topic);
        after.ProduceRaw(Sessions("new"));
        var logger = new CapturingLogger();
        var second = new ExtractionLoop(after.Options(dataRoot: before.DataRoot), new DatasetStore(before.DataRoot), logger);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2))) await second.RunAsync(timeout.Token);

        Assert.Equal(0, second.Progress.ReplayedRecords);
        Assert.Equal(1, second.Progress.DeadLettered);
        var dead = Assert.Single(after.ReadDeadLetters());
        Assert.Equal("new-s9", dead.Key);
        Assert.Contains(logger.Lines, l => l.Contains("Progress mark of partition 0 was written for cluster", StringComparison.Ordinal));
    }

    /// <summary>Nine valid one-event sessions and a malformed record at offset 9.</summary>
    private static IEnumerable<(string? Key, byte[]? Value)> Sessions(string prefix)
    {
        for (var i = 0; i < 9; i++)
        {
            var evt = new FeedbackEvent($"{prefix}-e{i}", "demo", $"{prefix}-s{i}", "u1", KnownSessions.Start.AddSeconds(i), SessionEnded.Instance);
            yield return (evt.SessionId, EventJson.SerializeToUtf8Bytes(evt));
        }
        yield return ($"{prefix}-s9", Encoding.UTF8.GetBytes("{\"event_id\":"));
    }

    /// <summary>Records the extractor dead-letters (not JSON), each about <see cref="RecordBytes"/> long.</summary>
    private static IEnumerable<(string? Key, byte[]? Value)> Garbage(int first, int count) =>
        Enumerable.Range(first, count).Select(i => ((string?)$"k{i}", (byte[]?)Encoding.UTF8.GetBytes($"not json {i} " + new string('x', RecordBytes))));

    private static void Produce(string bootstrap, string topic, IEnumerable<(string? Key, byte[]? Value)> records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        foreach (var (key, value) in records)
            producer.Produce(topic, new Message<byte[]?, byte[]?> { Key = key is null ? null : Encoding.UTF8.GetBytes(key), Value = value });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
    }

    private static long LogStart(EmbeddedKafkaCluster cluster, string topic) => LogStart(cluster.BootstrapServers, topic);

    private static long LogStart(string bootstrap, string topic)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "probe-" + Guid.NewGuid().ToString("N") }).Build();
        return consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), TimeSpan.FromSeconds(10)).Low.Value;
    }
}
