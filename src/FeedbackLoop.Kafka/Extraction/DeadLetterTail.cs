using System.Globalization;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Kafka.Configuration;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// Finds the dead letters already in the dead-letter topic for a partition's replay window, so a restarted extractor
/// does not send them again (ADR 0012). For each newly assigned partition the window starts where this data folder's
/// knowledge ends: the higher of the group's committed offset and the progress mark. Each dead-letter partition is read
/// backwards from its end in chunks, and the read of it stops once, for every assigned partition, it holds a dead letter
/// from before that partition's window: dead letters of one source partition reach one dead-letter partition in source
/// order (one producer per owner, idempotent, and owners take turns), so nothing older can be in the window.
/// </summary>
/// <remarks>
/// Only dead letters whose <see cref="ExtractionLoop.OriginHeader"/> names this cluster and topic are trusted: after a topic is
/// created again, offsets start at 0 and an old dead letter must not hide a new bad record. Every way this can fall
/// short (the read limit, an unreadable topic, dead letters without an origin) ends in sending a dead letter again,
/// never in losing one.
/// </remarks>
internal sealed partial class DeadLetterTail(string bootstrapServers, KafkaClientProperties kafkaProperties, string deadLetterTopic, string sourceTopic, long scanLimit, ILogger logger)
{
    // Records asked for per backward step: large enough that fetches are full, small enough that a tail that ends
    // close to the window is read in one step.
    private const int Chunk = 500;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>What one search found: the source offsets per partition already dead-lettered, and how it went.</summary>
    public sealed record Result(Dictionary<int, HashSet<long>> Sent, long RecordsRead, bool LimitHit);

    /// <summary>
    /// Reads the dead-letter topic's tail for the given windows (partition → first offset of its replay window); null when
    /// the origin is unknown (then nothing is trusted) or the topic could not be read (both logged).
    /// </summary>
    public Result? Find(IReadOnlyDictionary<int, long> windows, LogOrigin? origin)
    {
        if (windows.Count == 0) return new Result([], 0, false);
        if (origin is null) return null;
        var originText = OriginText(origin);
        var sent = windows.Keys.ToDictionary(p => p, _ => new HashSet<long>());
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            // Assigned, never subscribed: the group id is only a name, nothing is committed under it.
            GroupId = "feedbackloop-extractor-dlq-tail",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            ClientId = "feedbackloop-extractor-dlq-tail",
        };
        kafkaProperties.ApplyTo(config);
        long read = 0;
        try
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).Build();
            foreach (var partition in Partitions(bootstrapServers, kafkaProperties, deadLetterTopic))
            {
                var tp = new TopicPartition(deadLetterTopic, partition);
                var marks = consumer.QueryWatermarkOffsets(tp, Timeout);
                var low = marks.Low.IsSpecial ? 0 : marks.Low.Value;
                var end = marks.High.IsSpecial ? 0 : marks.High.Value;
                // Source partitions whose window start this dead-letter partition has already passed going backwards.
                var passed = new HashSet<int>();
                while (end > low && passed.Count < windows.Count)
                {
                    if (read >= scanLimit)
                    {
                        LogLimit(logger, scanLimit, deadLetterTopic);
                        return new Result(sent, read, true);
                    }
                    var start = Math.Max(low, end - Math.Min(Chunk, scanLimit - read));
                    read += ReadRange(consumer, tp, start, end, windows, originText, sent, passed);
                    end = start;
                }
            }
        }
        catch (KafkaException ex)
        {
            LogUnreadable(logger, deadLetterTopic, ex.Error.Code.ToString());
            return null;
        }
        return new Result(sent, read, false);
    }

    /// <summary>Reads [start, end) of one dead-letter partition; a step's records are few, so order inside it does not matter.</summary>
    private long ReadRange(IConsumer<Ignore, Ignore> consumer, TopicPartition tp, long start, long end, IReadOnlyDictionary<int, long> windows,
        byte[] originText, Dictionary<int, HashSet<long>> sent, HashSet<int> passed)
    {
        long read = 0;
        consumer.Assign(new TopicPartitionOffset(tp, start));
        var deadline = DateTime.UtcNow + Timeout;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result is null) continue;
                if (result.IsPartitionEOF || result.Offset.Value >= end) break;
                read++;
                if (ParseSource(result.Message.Headers, originText) is not var (topic, partition, offset) || topic != sourceTopic) continue;
                if (!windows.TryGetValue(partition, out var from)) continue;
                if (offset >= from) sent[partition].Add(offset);
                else passed.Add(partition);
                if (result.Offset.Value + 1 >= end) break;
            }
        }
        finally
        {
            consumer.Unassign();
        }
        if (DateTime.UtcNow >= deadline) throw new KafkaException(new Error(ErrorCode.Local_TimedOut, "reading the dead-letter topic timed out"));
        return read;
    }

    /// <summary>The value of <see cref="ExtractionLoop.OriginHeader"/> for dead letters of records from <paramref name="origin"/>.</summary>
    internal static byte[] OriginText(LogOrigin origin) => Encoding.UTF8.GetBytes(origin.ClusterId + " " + origin.TopicId);

    /// <summary>The source of a dead letter written for <paramref name="originText"/>; null for any other or an unreadable one.</summary>
    internal static (string Topic, int Partition, long Offset)? ParseSource(Headers? headers, byte[] originText)
    {
        if (headers is null) return null;
        if (!headers.TryGetLastBytes(ExtractionLoop.OriginHeader, out var origin) || !origin.AsSpan().SequenceEqual(originText)) return null;
        if (!headers.TryGetLastBytes(ExtractionLoop.SourceHeader, out var bytes)) return null;
        var text = Encoding.UTF8.GetString(bytes);
        // topic/partition/offset; topic names cannot hold '/', but split from the right all the same.
        var last = text.LastIndexOf('/');
        var middle = last > 0 ? text.LastIndexOf('/', last - 1) : -1;
        if (middle <= 0) return null;
        if (!int.TryParse(text.AsSpan(middle + 1, last - middle - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            || !long.TryParse(text.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return null;
        }
        return (text[..middle], partition, offset);
    }

    private static IEnumerable<int> Partitions(string bootstrapServers, KafkaClientProperties kafkaProperties, string topic)
    {
        using var admin = new AdminClientBuilder(kafkaProperties.ApplyTo(new AdminClientConfig { BootstrapServers = bootstrapServers, ClientId = "feedbackloop-extractor-dlq-tail" })).Build();
        var metadata = admin.GetMetadata(topic, Timeout);
        // A topic that does not exist yet holds no dead letters.
        return metadata.Topics is [{ Error.IsError: false } t] ? [.. t.Partitions.Select(p => p.PartitionId)] : [];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Read {Limit} records of {Topic} looking for dead letters already sent (the limit, DeadLetterScanLimit); "
        + "records of the replay window not found so far may be dead-lettered again")]
    private static partial void LogLimit(ILogger logger, long limit, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read {Topic} to find dead letters already sent ({Code}); the replay may dead-letter records again")]
    private static partial void LogUnreadable(ILogger logger, string topic, string code);
}
