using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Kafka.Status;

/// <summary>A member of the consumer group: an extractor instance and the partitions it holds now.</summary>
public sealed record GroupMember(string ClientId, string Host, IReadOnlyList<int> Partitions);

/// <summary>
/// A consumer group on a topic: per partition, the committed offset against the log's start and end (as Kafka
/// Connect's status endpoint or <c>kafka-consumer-groups --describe</c> give it), and the members when the cluster
/// describes groups.
/// </summary>
/// <param name="Group">The group id.</param>
/// <param name="Topic">The topic.</param>
/// <param name="GroupState">The group's state as the coordinator says it (Stable, Empty, ...), null when not described.</param>
/// <param name="Members">The members, null when the cluster did not describe the group.</param>
/// <param name="Partitions">Every partition of the topic, in order.</param>
public sealed record GroupStatus(string Group, string Topic, string? GroupState, IReadOnlyList<GroupMember>? Members, IReadOnlyList<PartitionLag> Partitions)
{
    /// <summary>Records still to be read, over all partitions.</summary>
    public long Lag => Partitions.Sum(p => p.Lag);

    /// <summary>Records deleted before the group read them, over all partitions.</summary>
    public long Lost => Partitions.Sum(p => p.Lost);

    /// <summary>
    /// Reads the group's committed offsets (OffsetFetch, through a consumer that never joins the group, so reading
    /// disturbs no running extractor), the partitions' watermarks, and the group's description.
    /// </summary>
    /// <exception cref="KafkaException">The cluster did not answer.</exception>
    /// <exception cref="InvalidOperationException">The topic does not exist.</exception>
    public static async Task<GroupStatus> ReadAsync(string bootstrapServers, KafkaClientProperties properties, string group, string topic, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(properties);
        using var admin = new AdminClientBuilder(properties.ApplyTo(new AdminClientConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "feedbackloop-extract-status",
            AllowAutoCreateTopics = false,
        })).SetLogHandler((_, _) => { /* failures surface as exceptions of the calls */ }).Build();
        var metadata = admin.GetMetadata(topic, timeout).Topics.SingleOrDefault(t => t.Topic == topic);
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
            throw new InvalidOperationException($"topic {topic} does not exist on {bootstrapServers} ({metadata?.Error.Reason ?? "not in the metadata"})");
        var partitions = metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();

        using var consumer = new ConsumerBuilder<Ignore, Ignore>(properties.ApplyTo(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = group,
            ClientId = "feedbackloop-extract-status",
            EnableAutoCommit = false,
            AllowAutoCreateTopics = false,
        })).SetLogHandler((_, _) => { }).Build();
        var committed = consumer.Committed(partitions, timeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
        var lags = partitions.Select(tp =>
        {
            var marks = consumer.QueryWatermarkOffsets(tp, timeout);
            var offset = committed.GetValueOrDefault(tp.Partition.Value, Offset.Unset);
            return new PartitionLag(tp.Partition.Value, offset.IsSpecial ? null : offset.Value, marks.Low.Value, marks.High.Value);
        }).ToList();

        var (state, members) = await DescribeAsync(admin, group, topic, timeout).ConfigureAwait(false);
        return new GroupStatus(group, topic, state, members, lags);
    }

    private static async Task<(string? State, IReadOnlyList<GroupMember>? Members)> DescribeAsync(IAdminClient admin, string group, string topic, TimeSpan timeout)
    {
        try
        {
            var described = await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { RequestTimeout = timeout }).ConfigureAwait(false);
            var description = described.ConsumerGroupDescriptions.Single();
            return (description.State.ToString(), [.. description.Members.Select(m => new GroupMember(m.ClientId, m.Host,
                [.. (m.Assignment?.TopicPartitions ?? []).Where(tp => tp.Topic == topic).Select(tp => tp.Partition.Value).Order()]))]);
        }
        catch (KafkaException)
        {
            // Not every cluster answers DescribeGroups (librdkafka's in-process one, a user without Describe rights): offsets
            // are still reported.
            return (null, null);
        }
    }
}
