using FeedbackLoop.Cli;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Topics;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>feedbackloop topics ensure</c>: the pure decision (desired and actual topic → actions, refusals, unsafe settings,
/// notes) as a table, and the command against the in-process cluster.
/// </summary>
public sealed class TopicPlanTests
{
    private const long Week = 7L * 24 * 60 * 60 * 1000;
    private static readonly DesiredTopic Events = new(KafkaTopics.Events, 6, 3, 2, Week);

    private static Dictionary<string, string> Safe(string insync = "2", string unclean = "false", string cleanup = "delete", string retention = "604800000") =>
        new(StringComparer.Ordinal)
        {
            ["min.insync.replicas"] = insync, ["unclean.leader.election.enable"] = unclean, ["cleanup.policy"] = cleanup, ["retention.ms"] = retention,
        };

    public static TheoryData<string, ActualTopic?, int, bool, string> Cases => new()
    {
        // case, actual topic, brokers, --allow-unsafe, expected "actions | refusals | unsafe | notes" (each a count, then key words)
        { "missing on 3 brokers: created safe", null, 3, false,
            "A:create feedbackloop.events.v1: 6 partitions, replication factor 3, min.insync.replicas=2, unclean.leader.election.enable=false, cleanup.policy=delete, retention.ms=604800000" },
        { "missing on 5 brokers: still RF 3", null, 5, false, "A:create feedbackloop.events.v1: 6 partitions, replication factor 3," },
        { "missing on 1 broker: refused", null, 1, false, "R:the cluster has 1 broker(s), replication factor 3 needs 3; pass --allow-unsafe" },
        { "missing on 1 broker, unsafe allowed: RF 1, min.insync 1, loudly", null, 1, true,
            "A:create feedbackloop.events.v1: 6 partitions, replication factor 1, min.insync.replicas=1|U:the cluster has 1 broker(s)|U:min.insync.replicas 1" },
        { "missing on 2 brokers, unsafe allowed: RF 2, min.insync 1", null, 2, true, "A:create feedbackloop.events.v1: 6 partitions, replication factor 2, min.insync.replicas=1|U:the cluster has 2|U:min.insync.replicas 1" },
        { "as it should be: nothing to do", new(KafkaTopics.Events, 6, 3, Safe()), 3, false, "" },
        { "forever retention is long enough", new(KafkaTopics.Events, 6, 3, Safe(retention: "-1")), 3, false, "" },
        { "stricter min.insync is left alone", new(KafkaTopics.Events, 6, 5, Safe(insync: "3")), 5, false, "" },
        { "min.insync 1 is raised", new(KafkaTopics.Events, 6, 3, Safe(insync: "1")), 3, false, "A:set feedbackloop.events.v1 min.insync.replicas=2 (was 1)" },
        { "unclean election is turned off", new(KafkaTopics.Events, 6, 3, Safe(unclean: "true")), 3, false, "A:set feedbackloop.events.v1 unclean.leader.election.enable=false (was true)" },
        { "compaction would drop a session's events", new(KafkaTopics.Events, 6, 3, Safe(cleanup: "compact")), 3, false, "A:set feedbackloop.events.v1 cleanup.policy=delete (was compact)" },
        { "compact,delete too", new(KafkaTopics.Events, 6, 3, Safe(cleanup: "compact,delete")), 3, false, "A:set feedbackloop.events.v1 cleanup.policy=delete (was compact,delete)" },
        { "one hour retention is raised", new(KafkaTopics.Events, 6, 3, Safe(retention: "3600000")), 3, false, "A:set feedbackloop.events.v1 retention.ms=604800000 (was 3600000)" },
        { "settings not set at all are set", new(KafkaTopics.Events, 6, 3, new Dictionary<string, string>()), 3, false,
            "A:set feedbackloop.events.v1 min.insync.replicas=2 (was not set)|A:set feedbackloop.events.v1 unclean.leader.election.enable=false|A:set feedbackloop.events.v1 cleanup.policy=delete|A:set feedbackloop.events.v1 retention.ms=604800000" },
        { "RF 1 on a big cluster: refused, nothing changed", new(KafkaTopics.Events, 6, 1, Safe(insync: "1", unclean: "true")), 3, false,
            "R:replication factor 1, below 3; ensure cannot change it" },
        { "RF 1 allowed: left, min.insync stays 1", new(KafkaTopics.Events, 6, 1, Safe(insync: "1")), 1, true, "U:replication factor 1, below 3|U:min.insync.replicas 1" },
        { "min.insync above RF blocks every write", new(KafkaTopics.Events, 6, 3, Safe(insync: "4")), 3, false, "R:min.insync.replicas 4 is above the replication factor 3" },
        { "fewer partitions: noted, never added", new(KafkaTopics.Events, 3, 3, Safe()), 3, false, "N:3 partitions, fewer than the 6 asked; left as it is" },
        { "more partitions: fine", new(KafkaTopics.Events, 12, 3, Safe()), 3, false, "N:12 partitions, more than the 6 asked; fine" },
        { "settings not described: refused", new(KafkaTopics.Events, 6, 3, null), 3, false, "R:the cluster did not describe the topic's settings" },
        { "settings not described, unsafe allowed: reported", new(KafkaTopics.Events, 6, 3, null), 3, true, "U:the cluster did not describe the topic's settings" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ensure_decides(string @case, ActualTopic? actual, int brokers, bool allowUnsafe, string expected)
    {
        var decision = TopicPlan.Decide(Events, actual, brokers, allowUnsafe);
        var got = decision.Actions.Select(a => "A:" + a).Concat(decision.Refusals.Select(r => "R:" + r))
            .Concat(decision.Unsafe.Select(u => "U:" + u)).Concat(decision.Notes.Select(n => "N:" + n)).ToList();
        var want = expected.Length == 0 ? [] : expected.Split('|');
        Assert.True(want.Length == got.Count, $"{@case}: expected {want.Length} lines, got:\n{string.Join('\n', got)}");
        for (var i = 0; i < want.Length; i++)
        {
            var kind = want[i][..2];
            Assert.True(got[i].StartsWith(kind, StringComparison.Ordinal) && got[i].Contains(want[i][2..], StringComparison.Ordinal),
                $"{@case}: line {i} expected to contain '{want[i]}', got:\n{string.Join('\n', got)}");
        }
        if (decision.Refusals.Count > 0) Assert.Empty(decision.Actions);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 1)]
    public void Asking_for_less_than_production_is_refused_without_allow_unsafe(int replication, int minInsync)
    {
        var decision = TopicPlan.Decide(Events with { ReplicationFactor = replication, MinInsyncReplicas = minInsync }, null, 3, allowUnsafe: false);
        Assert.NotEmpty(decision.Refusals);
        Assert.Empty(decision.Actions);
    }

    [Fact]
    public void Dead_letters_keep_at_least_30_days_and_one_partition()
    {
        var topics = Cli.Commands.TopicsCommand.Desired(12, 7);
        Assert.Equal((KafkaTopics.Events, 12, 3, 2, Week), (topics[0].Name, topics[0].Partitions, topics[0].ReplicationFactor, topics[0].MinInsyncReplicas, topics[0].RetentionMs));
        Assert.Equal((KafkaTopics.DeadLetters, 1, 30L * 24 * 60 * 60 * 1000), (topics[1].Name, topics[1].Partitions, topics[1].RetentionMs));
    }

    /// <summary>
    /// Against librdkafka's in-process cluster (3 brokers, topics made by the cluster): it answers Metadata but not
    /// DescribeConfigs, so ensure refuses, changes nothing and says why; with --allow-unsafe it reports that loudly and
    /// succeeds, the same way every time it runs.
    /// </summary>
    [Fact]
    public async Task Ensure_on_the_in_process_cluster_refuses_unchecked_settings_and_reruns_the_same()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3);

        var (refusedExit, refusedOut, refusedErr) = await EnsureAsync("--bootstrap", cluster.BootstrapServers);
        Assert.True(refusedExit == 1, $"exit {refusedExit}\n{refusedOut}\n{refusedErr}");
        Assert.Contains($"refused: {KafkaTopics.Events}: the cluster did not describe the topic's settings", refusedErr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", refusedErr, StringComparison.Ordinal);

        var runs = new List<(int, string, string)>();
        for (var i = 0; i < 2; i++) runs.Add(await EnsureAsync("--bootstrap", cluster.BootstrapServers, "--allow-unsafe"));
        foreach (var (exit, output, error) in runs)
        {
            Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
            Assert.StartsWith("!!! UNSAFE (--allow-unsafe)", error, StringComparison.Ordinal);
            Assert.Equal($"ok {KafkaTopics.Events}\nok {KafkaTopics.DeadLetters}\n", output.ReplaceLineEndings("\n"));
        }
        Assert.Equal(runs[0], runs[1]);
    }

    [Fact]
    public async Task Ensure_asks_to_create_missing_topics_and_says_what_the_cluster_answered()
    {
        // The in-process cluster does not implement CreateTopics: the command must say so and fail, not hang or pass.
        using var cluster = EmbeddedKafkaCluster.Start(brokers: 3);
        var (checkExit, checkOut, _) = await EnsureAsync("--bootstrap", cluster.BootstrapServers, "--check");
        Assert.Equal(1, checkExit);
        Assert.Contains($"would create {KafkaTopics.Events}: 6 partitions, replication factor 3, min.insync.replicas=2", checkOut, StringComparison.Ordinal);
        Assert.Contains($"would create {KafkaTopics.DeadLetters}: 1 partitions, replication factor 3", checkOut, StringComparison.Ordinal);

        var (exit, output, error) = await EnsureAsync("--bootstrap", cluster.BootstrapServers);
        Assert.True(exit == 3, $"exit {exit}\n{output}\n{error}");
        Assert.Contains($"Kafka at {cluster.BootstrapServers}: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_single_broker_cluster_is_refused_without_allow_unsafe()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokers: 1);
        var (exit, _, error) = await EnsureAsync("--bootstrap", cluster.BootstrapServers);
        Assert.Equal(1, exit);
        Assert.Contains("the cluster has 1 broker(s), replication factor 3 needs 3; pass --allow-unsafe only for a development cluster", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> EnsureAsync(params string[] options)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CliCommands.Root().Parse(["topics", "ensure", .. options]).InvokeAsync(new() { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}
