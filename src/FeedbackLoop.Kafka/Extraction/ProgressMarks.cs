using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FeedbackLoop.Kafka.Configuration;
using FeedbackLoop.Kafka.Embedded;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// Per partition, the offset below which every record was fully handled (rows durable, dead letters
/// delivered). The committed Kafka offset can be lower (it waits for open sessions, which are rebuilt
/// by re-reading); records between the two are a replay, and a replay must not dead-letter a record
/// a second time. One small file per partition, written atomically, so instances owning different
/// partitions never write the same file.
/// </summary>
/// <remarks>
/// An offset means something only in the log it came from: after a broker reset, or a topic deleted and created
/// again, offsets start at 0 once more and an old mark would make new records look like a replay, so a bad record
/// would be neither processed nor dead-lettered. Each mark therefore records the <see cref="LogOrigin"/> (cluster id
/// and topic id) it was written for, and a mark from another origin, or from before origins were recorded, is
/// discarded with a log line, never trusted. Without a known origin no mark is trusted at all (nor is the dead-letter
/// topic's tail, see <see cref="DeadLetterTail"/>): a replay may then re-send a dead letter, but never swallows one.
/// </remarks>
internal sealed partial class ProgressMarks(string directory, ILogger logger)
{
    private const string Version = "v2";
    private readonly Dictionary<int, long> _cache = [];
    private LogOrigin? _origin;

    /// <summary>The log the marks belong to; set once the loop has asked the cluster (null: unknown, trust no mark).</summary>
    public void Bind(LogOrigin? origin)
    {
        _origin = origin;
        _cache.Clear();
    }

    public long Get(int partition)
    {
        if (_cache.TryGetValue(partition, out var cached)) return cached;
        var value = Read(partition);
        _cache[partition] = value;
        return value;
    }

    /// <summary>Raises the marks of these partitions where they moved forward, all written together (<see cref="StateFiles.ReplaceAll"/>).</summary>
    public void SetAll(IEnumerable<(int Partition, long Offset)> marks)
    {
        if (_origin is not { } origin) return;
        var files = new List<StateFile>();
        var raised = new List<(int Partition, long Offset)>();
        foreach (var (partition, offset) in marks)
        {
            if (_cache.TryGetValue(partition, out var current) && current >= offset) continue;
            files.Add(new StateFile(PathOf(partition), Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version} {origin.ClusterId} {origin.TopicId} {offset}\n")), ReadOnlyMemory<byte>.Empty));
            raised.Add((partition, offset));
        }
        StateFiles.ReplaceAll(directory, files);
        foreach (var (partition, offset) in raised) _cache[partition] = offset;
    }

    /// <summary>Forget cached values of partitions this instance no longer owns (another may advance them).</summary>
    public void Forget(int partition) => _cache.Remove(partition);

    private long Read(int partition)
    {
        var path = PathOf(partition);
        if (!File.Exists(path)) return 0;
        var fields = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (_origin is not { } origin)
        {
            LogNoOrigin(logger, partition);
            return 0;
        }
        if (fields is [Version, var cluster, var topic, var text]
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            if (cluster == origin.ClusterId && topic == origin.TopicId) return offset;
            LogForeignMark(logger, partition, cluster, topic, origin.ClusterId, origin.TopicId);
            return 0;
        }
        LogUnreadableMark(logger, partition, path);
        return 0;
    }

    private string PathOf(int partition) => Path.Combine(directory, "partition-" + partition.ToString(CultureInfo.InvariantCulture) + ".done");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Progress mark of partition {Partition} was written for cluster {MarkCluster} topic {MarkTopic}, "
        + "but this is cluster {Cluster} topic {Topic} (a new cluster, or the topic was created again); it is discarded, so bad records are dead-lettered again")]
    private static partial void LogForeignMark(ILogger logger, int partition, string markCluster, string markTopic, string cluster, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Progress mark of partition {Partition} ({Path}) has no cluster and topic id (an older version wrote it) "
        + "or cannot be read; it is discarded, so a replay may dead-letter a record again")]
    private static partial void LogUnreadableMark(ILogger logger, int partition, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster's id is unknown, so the progress mark of partition {Partition} cannot be checked and is not trusted; "
        + "a replay may dead-letter a record again")]
    private static partial void LogNoOrigin(ILogger logger, int partition);
}

/// <summary>Which log offsets belong to: the cluster's id and the topic's id (both as the broker reports them).</summary>
/// <param name="ClusterId">The Kafka cluster id.</param>
/// <param name="TopicId">The topic's id (a UUID), or <c>-</c> where the broker reports none.</param>
internal sealed record LogOrigin(string ClusterId, string TopicId)
{
    /// <summary>Asks the cluster; null when it does not say its id (then no progress mark is trusted).</summary>
    public static LogOrigin? Describe(string bootstrapServers, string topic, TimeSpan timeout, KafkaClientProperties? kafkaProperties = null)
    {
        kafkaProperties ??= KafkaClientProperties.None;
        string? clusterId;
        try
        {
            clusterId = ClusterIdQuery.Read(bootstrapServers, kafkaProperties, timeout);
        }
        catch (DllNotFoundException)
        {
            return null;
        }
        if (string.IsNullOrWhiteSpace(clusterId)) return null;

        // Topic ids need brokers of Kafka 2.8 or later; without one, a topic deleted and created again on the same cluster
        // is not told apart (the cluster id still is). librdkafka's in-process cluster (ids "mockCluster…") keeps no topic
        // ids and never answers DescribeTopics, so asking it would only wait out the whole timeout on every start.
        if (clusterId.StartsWith(EmbeddedClusterIdPrefix, StringComparison.Ordinal)) return new LogOrigin(Token(clusterId), "-");
        string topicId;
        using var admin = new AdminClientBuilder(kafkaProperties.ApplyTo(new AdminClientConfig { BootstrapServers = bootstrapServers, ClientId = "feedbackloop-extractor-origin" })).Build();
        try
        {
            var topics = admin.DescribeTopicsAsync(TopicCollection.OfTopicNames([topic]), new DescribeTopicsOptions { RequestTimeout = timeout })
                .GetAwaiter().GetResult();
            topicId = topics.TopicDescriptions is [{ TopicId: { } id }] && (id.MostSignificantBits | id.LeastSignificantBits) != 0 ? id.ToString() : "-";
        }
        catch (KafkaException)
        {
            topicId = "-";
        }
        return new LogOrigin(Token(clusterId), Token(topicId));
    }

    /// <summary>How librdkafka's mock cluster (our embedded cluster) names itself.</summary>
    internal const string EmbeddedClusterIdPrefix = "mockCluster";

    // Ids are written space-separated; brokers use base64 and UUIDs, but a broker we did not write may not.
    private static string Token(string id) => string.Concat(id.Select(c => char.IsWhiteSpace(c) || char.IsControl(c) ? '_' : c));
}
