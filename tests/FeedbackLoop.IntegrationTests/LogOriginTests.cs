using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>Where progress marks and checkpoints come from: the cluster's id and the topic's id, as the embedded cluster reports them.</summary>
public sealed class LogOriginTests
{
    [Fact]
    public async Task The_embedded_cluster_is_named_by_its_id_and_answers_at_once_without_a_topic_id()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3, eventPartitions: 6);

        // A generous timeout: asking the embedded cluster for a topic id used to wait all of it on every extractor start.
        var describing = Task.Run(() => LogOrigin.Describe(cluster.BootstrapServers, KafkaTopics.Events, TimeSpan.FromMinutes(10)));

        var origin = Assert.IsType<LogOrigin>(await describing.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.StartsWith(LogOrigin.EmbeddedClusterIdPrefix, origin.ClusterId, StringComparison.Ordinal);
        Assert.Equal("-", origin.TopicId);
    }

    [Fact]
    public void Two_embedded_clusters_have_different_ids()
    {
        using var first = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 1);
        using var second = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 1);

        var a = LogOrigin.Describe(first.BootstrapServers, KafkaTopics.Events, TimeSpan.FromSeconds(30));
        var b = LogOrigin.Describe(second.BootstrapServers, KafkaTopics.Events, TimeSpan.FromSeconds(30));

        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.NotEqual(a.ClusterId, b.ClusterId);
    }
}
