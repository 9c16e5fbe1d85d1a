using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The extractor's fetch settings (<see cref="ExtractionLoopOptions.FetchQueueBackoff"/>): a consumer whose local queue
/// is full fetches again after the option's wait, not after librdkafka's default second, which left the bench's raw
/// consumer idle for most of its run. And the longest a broker holds an empty Fetch (<see cref="ExtractionLoopOptions.FetchMaxWait"/>)
/// goes to the client as set.
/// </summary>
public sealed partial class FetchSettingsTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(10, 100)]
    [InlineData(1_000, 500)]
    [InlineData(300_000, 300_000)]
    public void The_fetch_settings_go_to_the_client_in_milliseconds(int backoffMs, int waitMs)
    {
        var config = new ConsumerConfig();
        Options(backoffMs, waitMs).ApplyFetchSettings(config);
        Assert.Equal(backoffMs, config.FetchQueueBackoffMs);
        Assert.Equal(waitMs, config.FetchWaitMaxMs);
    }

    [Fact]
    public void The_default_fetch_queue_backoff_is_10_ms_and_the_default_fetch_wait_100_ms()
    {
        var config = new ConsumerConfig();
        new ExtractionLoopOptions { BootstrapServers = "localhost:9092", StateDirectory = "state" }.ApplyFetchSettings(config);
        Assert.Equal(10, config.FetchQueueBackoffMs);
        Assert.Equal(100, config.FetchWaitMaxMs);
    }

    [Theory]
    [InlineData(-1, 100)]
    [InlineData(300_001, 100)]
    [InlineData(10, -1)]
    [InlineData(10, 300_001)]
    public void A_fetch_setting_outside_the_clients_range_is_refused_at_construction(int backoffMs, int waitMs)
    {
        using var folder = new TempFolder("fetch-settings");
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExtractionLoop(Options(backoffMs, waitMs), new DatasetStore(folder.Path), NullLogger.Instance));
    }

    [Fact]
    public void A_consumer_with_the_extractors_settings_fetches_again_after_the_options_backoff_once_its_queue_is_full()
    {
        const int Records = 5_000;
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 2);
        harness.ProduceRaw(Enumerable.Range(0, Records).Select(i => ((string?)$"key-{i}", (byte[]?)new byte[100])));
        var backoffs = new ConcurrentBag<int>();
        var config = new ConsumerConfig
        {
            BootstrapServers = fixture.Cluster.BootstrapServers,
            GroupId = "fetch-settings-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            // A queue of one record is full after any fetch that returned records, so the client decides on a backoff right
            // away. (500 depended on the producer's batches: the embedded broker returns one batch per partition and fetch,
            // and on a busy machine the batches were small enough that the queue never reached 500; it failed so once in a
            // full run of this suite.)
            QueuedMinMessages = 1,
            Debug = "fetch",
        };
        harness.Options().ApplyFetchSettings(config);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, message) =>
            {
                if (QueueFullBackoff().Match(message.Message) is { Success: true } match)
                    backoffs.Add(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            })
            .Build();
        consumer.Subscribe(harness.Topic);
        var read = 0;
        var clock = Stopwatch.StartNew();
        while (read < Records && clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100))?.Message is not null) read++;
        }
        consumer.Close();

        Assert.Equal(Records, read);
        Assert.NotEmpty(backoffs);
        Assert.All(backoffs, ms => Assert.Equal(10, ms));
    }

    private static ExtractionLoopOptions Options(int backoffMs, int waitMs) => new()
    {
        BootstrapServers = "localhost:9092",
        StateDirectory = "state",
        FetchQueueBackoff = TimeSpan.FromMilliseconds(backoffMs),
        FetchMaxWait = TimeSpan.FromMilliseconds(waitMs),
    };

    // librdkafka's debug line for a partition whose local queue is over queued.min.messages or queued.max.messages.kbytes.
    [GeneratedRegex(@"Fetch backoff for (\d+)ms: Local: Queue full")]
    private static partial Regex QueueFullBackoff();
}
