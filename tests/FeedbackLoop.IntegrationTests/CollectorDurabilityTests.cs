using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Collector;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Contracts;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Transports;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 12, item 3: the answer comes only after Kafka acknowledged the batch. Every broker set down: 503 with
/// Retry-After and nothing of that batch ever reaches the topic; brokers up again: the SDK's retry delivers every
/// event it tracked meanwhile. And in-flight bytes are bounded: past the bound, 429 with Retry-After, not more memory.
/// </summary>
[Collection(CollectorTests.Collection)]
public sealed class CollectorDurabilityTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(brokers: 3);
    private readonly string _events = "collector-durable-" + Guid.NewGuid().ToString("N");
    private readonly string _deadLetters = "collector-durable-dlq-" + Guid.NewGuid().ToString("N");
    private readonly TempFolder _folder = new("collector-durable");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly string _keysFile;
    private readonly string _key;

    public CollectorDurabilityTests()
    {
        _cluster.CreateTopic(_events, partitions: 3, replicationFactor: 3);
        _cluster.CreateTopic(_deadLetters, partitions: 1, replicationFactor: 3);
        _keysFile = _folder.Combine("keys.json");
        _key = new WriteKeyFile(_keysFile).Create("demo", DateTimeOffset.UtcNow).Key;
    }

    [Fact]
    public async Task Brokers_down_answer_503_and_accept_nothing_brokers_up_the_sdk_retry_delivers_everything()
    {
        await using var collector = await CollectorUnderTest.StartAsync(_cluster.BootstrapServers, _keysFile, o => o with
        {
            EventsTopic = _events,
            DeadLetterTopic = _deadLetters,
            DeliveryTimeout = TimeSpan.FromSeconds(2),
        });
        // Warm: the producer knows the cluster before it goes away.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(collector, CollectorEvents.Batch(CollectorEvents.Thumb("warm-1")))).Status);
        SetBrokers(up: false);

        var (status, retryAfter, body) = await PostAsync(collector, CollectorEvents.Batch(CollectorEvents.Thumb("refused-1"), CollectorEvents.Thumb("refused-2", session: "s2")));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(TimeSpan.FromSeconds(5), retryAfter);
        Assert.Contains(Refusals.KafkaUnavailable, body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _http.GetAsync(new Uri(collector.Url, CollectorHost.ReadyPath))).StatusCode);

        // The app tracks events while the brokers are down; its retries meet 503 until they are back.
        await using var client = new FeedbackClient(
            new FeedbackClientOptions
            {
                AppId = "demo",
                MaxBatchSize = 50,
                Retry = new RetryOptions { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1), TimeBudget = Deadline },
            },
            new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = collector.Url, WriteKey = _key }));
        const int count = 200;
        for (var i = 0; i < count; i++) Assert.True(client.Copied("session-" + (i % 7), "user-1", "g" + i));
        await Eventually.HoldsAsync(() => client.Counters.Retried > 0, Deadline, "the SDK met a 503 and retried");
        Assert.Equal(0, client.Counters.Sent);
        SetBrokers(up: true);

        await Eventually.HoldsAsync(() => client.Counters.Sent == count, Deadline, $"the SDK delivered all {count} events");
        Assert.Equal((0L, 0L, 0L), (client.Counters.Rejected, client.Counters.Failed, client.Counters.DroppedTotal()));
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(collector.Url, CollectorHost.ReadyPath))).StatusCode);

        // Every tracked event is on the topic (a retry may add a copy: the extractor drops it by event_id), and
        // nothing of the batch answered 503 ever got there.
        var generations = ReadEvents().Where(e => e.Type == EventTypes.GenerationCopied).Select(e => ((GenerationCopied)e.Data).GenerationId).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => "g" + i).Order(StringComparer.Ordinal), generations.Distinct().Order(StringComparer.Ordinal));
        Assert.DoesNotContain(ReadEvents(), e => e.EventId.StartsWith("refused-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Past_the_in_flight_bound_a_request_gets_429_with_Retry_After_and_once_the_bytes_are_given_back_it_is_taken()
    {
        await using var collector = await CollectorUnderTest.StartAsync(_cluster.BootstrapServers, _keysFile, o => o with
        {
            EventsTopic = _events,
            DeadLetterTopic = _deadLetters,
            MaxBodyBytes = 100_000,
            MaxDecompressedBytes = 100_000,
            MaxInFlightBytes = 200_000,
            MinBodyRateGrace = TimeSpan.FromSeconds(60),
        });
        var big = CollectorEvents.Batch([.. Enumerable.Range(0, 400).Select(i => CollectorEvents.Thumb("big-" + i))]);
        Assert.InRange(Encoding.UTF8.GetByteCount(big), 65_537, 100_000);

        // A client announces a large body and trickles it: its buffer is reserved while it sends.
        var slow = RawHttp.PostAsync(collector.BatchUrl, $"Authorization: Bearer {_key}\r\nContent-Type: application/json\r\n",
            Encoding.UTF8.GetBytes(big), sendBytes: 50, TimeSpan.FromMilliseconds(100), halfClose: true, Deadline);
        await Eventually.HoldsAsync(() => collector.InFlight.Held > 0, what: "the slow request holds its buffer");

        var (status, retryAfter, body) = await PostAsync(collector, big);
        Assert.Equal((HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(1)), (status, retryAfter));
        Assert.Contains(Refusals.InFlightFull, body, StringComparison.Ordinal);

        await slow;
        await Eventually.HoldsAsync(() => collector.InFlight.Held == 0, what: "the slow request gave its bytes back");
        var (again, _, answer) = await PostAsync(collector, big);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(400, JsonDocument.Parse(answer).RootElement.GetProperty("accepted").GetInt32());
    }

    private async Task<(HttpStatusCode Status, TimeSpan? RetryAfter, string Body)> PostAsync(CollectorUnderTest collector, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, collector.BatchUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, response.Headers.RetryAfter?.Delta, await response.Content.ReadAsStringAsync());
    }

    private List<FeedbackEvent> ReadEvents()
    {
        var events = new List<FeedbackEvent>();
        for (var partition = 0; partition < 3; partition++)
        {
            foreach (var record in ReadPartition(partition))
            {
                Assert.True(EventJson.TryParse(record, out var evt, out var rejection), rejection?.ToString());
                events.Add(evt);
            }
        }
        return events;
    }

    private List<byte[]> ReadPartition(int partition)
    {
        using var consumer = new Confluent.Kafka.ConsumerBuilder<byte[]?, byte[]?>(new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = _cluster.BootstrapServers,
            GroupId = "collector-durable-" + Guid.NewGuid().ToString("N"),
            EnablePartitionEof = true,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(_events, partition, Confluent.Kafka.Offset.Beginning));
        var records = new List<byte[]>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the end of partition {partition} was not reached within 30 s");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null) continue;
            if (result.IsPartitionEOF) return records;
            records.Add(result.Message.Value!);
        }
    }

    private void SetBrokers(bool up)
    {
        for (var broker = 1; broker <= _cluster.BrokerCount; broker++)
        {
            if (up) _cluster.SetBrokerUp(broker);
            else _cluster.SetBrokerDown(broker);
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _cluster.Dispose();
        _folder.Dispose();
    }
}
