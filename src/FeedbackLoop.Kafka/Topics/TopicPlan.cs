using System.Globalization;

namespace FeedbackLoop.Kafka.Topics;

/// <summary>A topic as the loop needs it: partitions, replication and the settings that lose nothing.</summary>
/// <param name="Name">The topic.</param>
/// <param name="Partitions">Partitions to create it with.</param>
/// <param name="ReplicationFactor">Copies of each partition (3 in production).</param>
/// <param name="MinInsyncReplicas">Copies an <c>acks=all</c> write must reach (2 in production).</param>
/// <param name="RetentionMs">How long records are kept; longer than extractors could ever fall behind.</param>
public sealed record DesiredTopic(string Name, int Partitions, int ReplicationFactor, int MinInsyncReplicas, long RetentionMs);

/// <summary>A topic as the cluster describes it; <see cref="Configs"/> is null when the cluster would not say.</summary>
/// <param name="Name">The topic.</param>
/// <param name="Partitions">Its partition count.</param>
/// <param name="ReplicationFactor">The fewest replicas any of its partitions has.</param>
/// <param name="Configs">Its settings (name → value), or null when DescribeConfigs was not answered.</param>
public sealed record ActualTopic(string Name, int Partitions, int ReplicationFactor, IReadOnlyDictionary<string, string>? Configs);

/// <summary>One change <c>topics ensure</c> makes.</summary>
public abstract record TopicAction(string Topic)
{
    /// <summary>Creates the topic.</summary>
    public sealed record Create(string Topic, int Partitions, int ReplicationFactor, IReadOnlyDictionary<string, string> Configs) : TopicAction(Topic)
    {
        /// <inheritdoc/>
        public override string ToString() =>
            $"create {Topic}: {Partitions} partitions, replication factor {ReplicationFactor}, " + string.Join(", ", Configs.Select(c => $"{c.Key}={c.Value}"));
    }

    /// <summary>Sets one setting of an existing topic.</summary>
    public sealed record SetConfig(string Topic, string Key, string Value, string Was) : TopicAction(Topic)
    {
        /// <inheritdoc/>
        public override string ToString() => $"set {Topic} {Key}={Value} (was {Was})";
    }
}

/// <summary>What <c>topics ensure</c> will do for one topic, and what it refuses or only reports.</summary>
/// <param name="Actions">Changes to make (none when the topic is as it should be).</param>
/// <param name="Refusals">Why it will not go on; any refusal means nothing is changed at all.</param>
/// <param name="Unsafe">Settings below the production ones, accepted because of <c>--allow-unsafe</c>.</param>
/// <param name="Notes">Differences that are not unsafe and that ensure leaves alone.</param>
public sealed record TopicDecision(IReadOnlyList<TopicAction> Actions, IReadOnlyList<string> Refusals, IReadOnlyList<string> Unsafe, IReadOnlyList<string> Notes);

/// <summary>
/// The pure decision of <c>feedbackloop topics ensure</c>: desired topic and what the cluster has → actions, refusals,
/// unsafe settings accepted, notes. It only ever makes a topic safer (more in-sync replicas, longer retention, unclean
/// election off, deletion instead of compaction); what it cannot fix with a setting (replication factor, too few brokers,
/// unreadable settings) is refused, or with <c>--allow-unsafe</c> reported loudly. Partitions are never added: that moves
/// sessions to other partitions while their events are being read.
/// </summary>
public static class TopicPlan
{
    /// <summary>Production replication factor.</summary>
    public const int SafeReplicationFactor = 3;

    /// <summary>Production <c>min.insync.replicas</c>.</summary>
    public const int SafeMinInsyncReplicas = 2;

    /// <summary>Decides for one topic.</summary>
    /// <param name="desired">The topic as the loop needs it.</param>
    /// <param name="actual">The topic on the cluster, or null when it does not exist.</param>
    /// <param name="brokers">Brokers in the cluster.</param>
    /// <param name="allowUnsafe">Accept replication below 3 and unreadable settings (a single-broker development cluster).</param>
    public static TopicDecision Decide(DesiredTopic desired, ActualTopic? actual, int brokers, bool allowUnsafe)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var actions = new List<TopicAction>();
        var refusals = new List<string>();
        var unsafeSettings = new List<string>();
        var notes = new List<string>();
        var name = desired.Name;

        void Unsafe(string what)
        {
            if (allowUnsafe) unsafeSettings.Add(what);
            else refusals.Add(what + "; pass --allow-unsafe only for a development cluster");
        }

        if (desired.ReplicationFactor < SafeReplicationFactor)
            Unsafe($"{name}: replication factor {desired.ReplicationFactor} was asked for; below {SafeReplicationFactor} a broker's disk failure loses acknowledged events");
        if (desired.MinInsyncReplicas < SafeMinInsyncReplicas)
            Unsafe($"{name}: min.insync.replicas {desired.MinInsyncReplicas} was asked for; below {SafeMinInsyncReplicas} an acks=all write can be acknowledged by one broker alone");

        if (actual is null)
        {
            var replication = desired.ReplicationFactor;
            if (brokers < replication)
            {
                Unsafe($"{name}: the cluster has {brokers} broker(s), replication factor {replication} needs {replication}");
                replication = Math.Max(1, brokers);
            }
            var minInsync = EffectiveMinInsync(desired.MinInsyncReplicas, replication);
            if (allowUnsafe && minInsync < SafeMinInsyncReplicas && desired.MinInsyncReplicas >= SafeMinInsyncReplicas)
                unsafeSettings.Add($"{name}: min.insync.replicas {minInsync} (replication factor {replication} cannot hold {desired.MinInsyncReplicas} with a broker down)");
            actions.Add(new TopicAction.Create(name, desired.Partitions, replication, Settings(desired, minInsync)));
            return Decision();
        }

        if (actual.Partitions < desired.Partitions)
        {
            notes.Add($"{name}: {actual.Partitions} partitions, fewer than the {desired.Partitions} asked; left as it is: adding partitions moves sessions to other partitions "
                + "(do it while no event flows, with kafka-topics.sh --alter, if more extractors must share the work)");
        }
        else if (actual.Partitions > desired.Partitions)
        {
            notes.Add($"{name}: {actual.Partitions} partitions, more than the {desired.Partitions} asked; fine, left as it is");
        }

        if (actual.ReplicationFactor < desired.ReplicationFactor)
            Unsafe($"{name}: replication factor {actual.ReplicationFactor}, below {desired.ReplicationFactor}; ensure cannot change it (kafka-reassign-partitions.sh can)");

        if (actual.Configs is not { } configs)
        {
            Unsafe($"{name}: the cluster did not describe the topic's settings (DescribeConfigs), so min.insync.replicas, unclean.leader.election.enable, "
                + "cleanup.policy and retention.ms are not checked");
            return Decision();
        }

        var wantInsync = EffectiveMinInsync(desired.MinInsyncReplicas, actual.ReplicationFactor);
        var insync = IntSetting(configs, "min.insync.replicas");
        if (insync is null || insync < wantInsync)
        {
            actions.Add(new TopicAction.SetConfig(name, "min.insync.replicas", Text(wantInsync), Was(configs, "min.insync.replicas")));
        }
        else if (insync > actual.ReplicationFactor)
        {
            refusals.Add($"{name}: min.insync.replicas {insync} is above the replication factor {actual.ReplicationFactor}, so no acks=all write can succeed; "
                + $"set it to {wantInsync} (kafka-configs.sh --alter)");
        }
        if (allowUnsafe && wantInsync < SafeMinInsyncReplicas && desired.MinInsyncReplicas >= SafeMinInsyncReplicas)
            unsafeSettings.Add($"{name}: min.insync.replicas {wantInsync} (replication factor {actual.ReplicationFactor} cannot hold {desired.MinInsyncReplicas} with a broker down)");

        if (!string.Equals(Setting(configs, "unclean.leader.election.enable"), "false", StringComparison.OrdinalIgnoreCase))
            actions.Add(new TopicAction.SetConfig(name, "unclean.leader.election.enable", "false", Was(configs, "unclean.leader.election.enable")));

        // Compaction keeps only the newest record per key, and the key is the session: it would delete a session's events.
        if (!string.Equals(Setting(configs, "cleanup.policy"), "delete", StringComparison.OrdinalIgnoreCase))
            actions.Add(new TopicAction.SetConfig(name, "cleanup.policy", "delete", Was(configs, "cleanup.policy")));

        // -1 keeps records forever, which is at least as long as asked.
        var retention = LongSetting(configs, "retention.ms");
        if (retention is null || (retention >= 0 && retention < desired.RetentionMs))
            actions.Add(new TopicAction.SetConfig(name, "retention.ms", Text(desired.RetentionMs), Was(configs, "retention.ms")));

        return Decision();

        TopicDecision Decision() => new(refusals.Count > 0 ? [] : actions, refusals, unsafeSettings, notes);
    }

    /// <summary>The settings a topic is created with.</summary>
    private static Dictionary<string, string> Settings(DesiredTopic desired, int minInsync) => new(StringComparer.Ordinal)
    {
        ["min.insync.replicas"] = Text(minInsync),
        ["unclean.leader.election.enable"] = "false",
        ["cleanup.policy"] = "delete",
        ["retention.ms"] = Text(desired.RetentionMs),
    };

    // One broker may be down and writes still succeed: never more in-sync replicas than replicas minus one (at least 1).
    private static int EffectiveMinInsync(int desired, int replication) => Math.Max(1, Math.Min(desired, replication - 1));

    private static string? Setting(IReadOnlyDictionary<string, string> configs, string key) => configs.TryGetValue(key, out var v) ? v : null;

    private static string Was(IReadOnlyDictionary<string, string> configs, string key) => Setting(configs, key) ?? "not set";

    private static int? IntSetting(IReadOnlyDictionary<string, string> configs, string key) =>
        int.TryParse(Setting(configs, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static long? LongSetting(IReadOnlyDictionary<string, string> configs, string key) =>
        long.TryParse(Setting(configs, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
