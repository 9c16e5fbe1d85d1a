using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 10's single hostile events, produced as raw records into the embedded cluster the way kcat would, among
/// good sessions: the extractor keeps running, dead-letters the bad record with a fixed reason, and the good
/// records around it produce their rows.
/// </summary>
public sealed class HardeningTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static byte[] Shown(string sessionId, string occurredAt, string eventId = "hostile-1") => Encoding.UTF8.GetBytes(
        $$$"""{"event_id":"{{{eventId}}}","type":"generation.shown","v":1,"app_id":"demo","session_id":"{{{sessionId}}}","user_id":"u","occurred_at":"{{{occurredAt}}}","data":{"generation_id":"gx","model_version":"m1","input":[{"role":"user","content":"Q"}],"output":"A"}}""");

    [Fact]
    public async Task An_event_dated_at_the_end_of_time_is_dead_lettered_and_restarts_go_on()
    {
        using var harness = new PipelineHarness(fixture.Cluster);
        var good = KnownSessions.All();
        // Finding 1: this record crashed the loop with ArgumentOutOfRangeException, and every restart again. One copy
        // carries a forged CreateTime at the end of time too: the extractor's clock bounds the reference.
        harness.Produce(good.Take(good.Count / 2));
        harness.ProduceRaw([("evil", Shown("evil", "9999-12-31T23:59:30Z"))]);
        ProduceWithTimestamp(harness, "evil-2", Shown("evil-2", "9999-12-31T23:59:30Z", "hostile-2"), new DateTime(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc));
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
