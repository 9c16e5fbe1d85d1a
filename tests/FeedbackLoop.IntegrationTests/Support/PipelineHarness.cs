using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>One embedded cluster per test class; each test gets its own topics, group and data folder.</summary>
public sealed class ClusterFixture : IDisposable
{
    public EmbeddedKafkaCluster Cluster { get; } = EmbeddedKafkaCluster.Start(brokers: 3);

    public void Dispose() => Cluster.Dispose();
}

/// <summary>The real pieces wired for one test: topics on the embedded cluster, a data folder, extractor runs.</summary>
internal sealed class PipelineHarness : IDisposable
{
    private static int _sequence;
    private readonly TempFolder _folder = new("it");

    /// <param name="cluster">The cluster the topics are created on.</param>
    /// <param name="partitions">Partitions of the events topic.</param>
    /// <param name="topic">The events topic's name (a fresh one by default; a test that moves to a new cluster reuses it).</param>
    public PipelineHarness(EmbeddedKafkaCluster cluster, int partitions = 6, string? topic = null)
    {
        Cluster = cluster;
        var n = Interlocked.Increment(ref _sequence);
        Topic = topic ?? $"events-{n}-{Guid.NewGuid():N}";
        DeadLetterTopic = Topic + ".dlq";
        cluster.CreateTopic(Topic, partitions, 3);
        cluster.CreateTopic(DeadLetterTopic, 1, 3);
    }

    public EmbeddedKafkaCluster Cluster { get; }
    public string Topic { get; }
    public string DeadLetterTopic { get; }
    public string DataRoot => _folder.Path;

    public ExtractionLoopOptions Options(string group = "extractors", string? dataRoot = null) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        StateDirectory = Path.Combine(dataRoot ?? DataRoot, "state", "extract"),
        GroupId = group,
        Topic = Topic,
        DeadLetterTopic = DeadLetterTopic,
        UntilIdle = TimeSpan.FromSeconds(1.5),
        FlushInterval = TimeSpan.FromMilliseconds(300),
    };

    /// <summary>Runs the extractor until idle with the real dataset store; returns the loop for its counters.</summary>
    public async Task<ExtractionLoop> ExtractAsync(string group = "extractors", string? dataRoot = null, IExtractionSink? sink = null)
    {
        var loop = new ExtractionLoop(Options(group, dataRoot), sink ?? new DatasetStore(dataRoot ?? DataRoot), NullLogger.Instance);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await loop.RunAsync(timeout.Token);
        return loop;
    }

    /// <summary>Produces raw records (key, value) the way any client would, and waits for their acks.</summary>
    public void ProduceRaw(IEnumerable<(string? Key, byte[]? Value)> records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
        }).Build();
        var errors = 0;
        foreach (var (key, value) in records)
        {
            producer.Produce(Topic, new Message<byte[]?, byte[]?> { Key = key is null ? null : Encoding.UTF8.GetBytes(key), Value = value },
                r => { if (r.Error.IsError) Interlocked.Increment(ref errors); });
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, errors);
    }

    public void Produce(IEnumerable<FeedbackEvent> events) =>
        ProduceRaw(events.Select(e => ((string?)e.SessionId, (byte[]?)EventJson.SerializeToUtf8Bytes(e))));

    /// <summary>Reads the whole dead-letter topic as it stands (see <see cref="HostileRecords.ReadDeadLetters"/>).</summary>
    public List<(byte[]? Value, string? Key, Dictionary<string, string> Headers)> ReadDeadLetters() =>
        HostileRecords.ReadDeadLetters(Cluster.BootstrapServers, DeadLetterTopic);

    public void Dispose() => _folder.Dispose();
}
