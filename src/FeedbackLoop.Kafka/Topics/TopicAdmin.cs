using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Kafka.Topics;

/// <summary>
/// The I/O of <c>topics ensure</c>: reads topics and their settings from a cluster and applies a plan's actions.
/// Metadata gives partitions, replicas and brokers; DescribeConfigs gives the settings (librdkafka's in-process cluster
/// does not answer it, nor CreateTopics, see docs/DEPLOY.md).
/// </summary>
public sealed class TopicAdmin : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    // A broker answers DescribeConfigs in milliseconds; one that does not implement it is only waited out.
    private static readonly TimeSpan DescribeConfigsTimeout = TimeSpan.FromSeconds(10);
    private readonly IAdminClient _admin;

    /// <summary>An admin client for the cluster, with the operator's properties.</summary>
    public TopicAdmin(string bootstrapServers, KafkaClientProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        _admin = new AdminClientBuilder(properties.ApplyTo(new AdminClientConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "feedbackloop-topics",
            // Never create a topic by asking for its metadata: a topic must get its settings from ensure.
            AllowAutoCreateTopics = false,
        })).SetLogHandler((_, _) => { /* the outcome is reported by each call */ }).Build();
    }

    /// <summary>Brokers in the cluster, and each named topic as it is (null when it does not exist).</summary>
    /// <exception cref="KafkaException">The cluster did not answer.</exception>
    public async Task<(int Brokers, IReadOnlyDictionary<string, ActualTopic?> Topics)> DescribeAsync(IReadOnlyList<string> names)
    {
        var metadata = _admin.GetMetadata(Timeout);
        var found = names
            .Select(name => metadata.Topics.FirstOrDefault(t => t.Topic == name && !t.Error.IsError && t.Partitions.Count > 0))
            .OfType<TopicMetadata>()
            .ToList();
        // One request for every topic: a cluster that does not answer DescribeConfigs costs one timeout, not one per topic.
        var configs = found.Count > 0 ? await ConfigsAsync([.. found.Select(t => t.Topic)]).ConfigureAwait(false) : null;
        var topics = names.ToDictionary(name => name, _ => (ActualTopic?)null, StringComparer.Ordinal);
        foreach (var topic in found)
        {
            var replication = topic.Partitions.Min(p => p.Replicas.Length);
            topics[topic.Topic] = new ActualTopic(topic.Topic, topic.Partitions.Count, replication, configs?.GetValueOrDefault(topic.Topic));
        }
        return (metadata.Brokers.Count, topics);
    }

    private async Task<Dictionary<string, IReadOnlyDictionary<string, string>>?> ConfigsAsync(IReadOnlyList<string> topics)
    {
        try
        {
            var results = await _admin.DescribeConfigsAsync(
                [.. topics.Select(t => new ConfigResource { Type = ResourceType.Topic, Name = t })],
                new DescribeConfigsOptions { RequestTimeout = DescribeConfigsTimeout }).ConfigureAwait(false);
            return results.ToDictionary(
                r => r.ConfigResource.Name,
                r => (IReadOnlyDictionary<string, string>)r.Entries.Where(e => e.Value.Value is not null).ToDictionary(e => e.Key, e => e.Value.Value, StringComparer.Ordinal),
                StringComparer.Ordinal);
        }
        catch (KafkaException)
        {
            // Not answered (an old broker, no DescribeConfigs permission, the in-process cluster): the plan reports it.
            return null;
        }
    }

    /// <summary>Carries out the actions, creations first.</summary>
    /// <exception cref="KafkaException">The cluster refused one; the message says which and why.</exception>
    public async Task ApplyAsync(IReadOnlyList<TopicAction> actions)
    {
        var creates = actions.OfType<TopicAction.Create>().Select(c => new TopicSpecification
        {
            Name = c.Topic,
            NumPartitions = c.Partitions,
            ReplicationFactor = (short)c.ReplicationFactor,
            Configs = c.Configs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
        }).ToList();
        if (creates.Count > 0)
        {
            try
            {
                await _admin.CreateTopicsAsync(creates, new CreateTopicsOptions { RequestTimeout = Timeout, OperationTimeout = Timeout }).ConfigureAwait(false);
            }
            catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
            {
                // Another ensure created it at the same moment; the next run checks its settings.
            }
        }

        var sets = actions.OfType<TopicAction.SetConfig>()
            .GroupBy(s => s.Topic)
            .ToDictionary(
                g => new ConfigResource { Type = ResourceType.Topic, Name = g.Key },
                g => g.Select(s => new ConfigEntry { Name = s.Key, Value = s.Value, IncrementalOperation = AlterConfigOpType.Set }).ToList());
        if (sets.Count > 0)
            await _admin.IncrementalAlterConfigsAsync(sets, new IncrementalAlterConfigsOptions { RequestTimeout = Timeout }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose() => _admin.Dispose();
}
