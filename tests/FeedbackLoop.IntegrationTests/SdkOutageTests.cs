using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The SDK with its disk spool against a real (in-process) Kafka cluster that goes away: every broker set
/// down, events tracked, the app restarted while the cluster is still down, the brokers set up again. The
/// topic must then hold every event exactly once. The cluster is this class's own, since its brokers go down.
/// </summary>
public sealed class SdkOutageTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(brokers: 3);
    private readonly string _topic = "sdk-outage-" + Guid.NewGuid().ToString("N");
    private readonly TempFolder _root = new("outage");

    public SdkOutageTests()
    {
        _cluster.CreateTopic(_topic, partitions: 3, replicationFactor: 3);
    }

    [Fact]
    public async Task Events_tracked_during_an_outage_and_across_an_app_restart_arrive_exactly_once()
    {
        var spool = Path.Combine(_root, "spool");
        SetBrokers(up: false);

        // First app run: the cluster is down, so everything ends up in the spool; then the app stops.
        var first = NewClient(spool);
        for (var i = 0; i < 150; i++) Track(first, i);
        Assert.True(await first.FlushAsync(Deadline), "every event was delivered or spooled");
        Assert.Equal(150, first.Counters.Spooled);
        Assert.Equal(0, first.Counters.Sent);
        Assert.True(await first.ShutdownAsync(TimeSpan.FromSeconds(2)), "shutdown: everything queued is on disk");

        // Second app run on the same spool, still during the outage; then the brokers come back.
        var second = NewClient(spool);
        for (var i = 150; i < 300; i++) Track(second, i);
        Assert.True(await second.FlushAsync(Deadline));
        SetBrokers(up: true);

        Assert.True(await Eventually.TrueAsync(() => second.Counters.Sent == 300, Deadline),
            $"the restarted app delivered its own and the first run's events (sent {second.Counters.Sent})");
        Assert.True(await second.ShutdownAsync(TimeSpan.FromSeconds(10)));

        // Every event arrived. A batch whose try the retry budget cut off inside librdkafka may also have reached the
        // broker after all, and was then resent from the spool: the topic can hold such a record twice, as the same
        // event (same event_id, same bytes), which the extractor drops (docs/SDK.md, "Transports": Retry). Never a lost event,
        // never a different event under the same id.
        var records = ReadAllRecords();
        var byEvent = records.GroupBy(r => r.EventId).ToList();
        Assert.Equal(300, byEvent.Count);
        Assert.All(byEvent, copies => Assert.Single(copies.Select(c => c.Json).Distinct()));
        Assert.Equal(Enumerable.Range(0, 300).Select(i => "g" + i).Order(), byEvent.Select(g => g.First().GenerationId).Order());
        Assert.Equal(0, second.Counters.DroppedTotal());
    }

    private FeedbackClient NewClient(string spool) => new(
        new FeedbackClientOptions
        {
            AppId = "outage",
            MaxBatchSize = 40,
            Spool = new SpoolOptions { Directory = spool },
            // Short budgets so the outage is noticed quickly; the spool keeps the events meanwhile.
            Retry = new RetryOptions { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(500), TimeBudget = TimeSpan.FromSeconds(2) },
        },
        new KafkaFeedbackTransport(_cluster.BootstrapServers, _topic, config =>
        {
            config.MessageTimeoutMs = 2_000;
            config.SocketTimeoutMs = 2_000;
        }));

    private static void Track(FeedbackClient client, int i) =>
        Assert.True(client.Copied("session-" + (i % 17), "user-1", "g" + i));

    private void SetBrokers(bool up)
    {
        for (var broker = 1; broker <= _cluster.BrokerCount; broker++)
        {
            if (up) _cluster.SetBrokerUp(broker);
            else _cluster.SetBrokerDown(broker);
        }
    }

    private sealed record Record(string EventId, string GenerationId, string Json);

    /// <summary>Every record in the topic, read to the end of each partition.</summary>
    private List<Record> ReadAllRecords()
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = _cluster.BootstrapServers,
            GroupId = "outage-check-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(_topic);
        var records = new List<Record>();
        var ended = new HashSet<int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (ended.Count < 3 && clock.Elapsed < Deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            if (result.IsPartitionEOF)
            {
                ended.Add(result.Partition.Value);
                continue;
            }
            Assert.True(EventJson.TryParse(result.Message.Value, out var evt, out var why), why?.ToString());
            records.Add(new Record(evt!.EventId, ((GenerationCopied)evt.Data).GenerationId, System.Text.Encoding.UTF8.GetString(result.Message.Value)));
        }
        Assert.Equal(3, ended.Count);
        return records;
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _root.Dispose();
    }
}
