namespace FeedbackLoop.Kafka.Configuration;

/// <summary>
/// Which librdkafka properties an operator's file may not set, and why: the settings each role chooses because its
/// correctness rests on them (docs/DEPLOY.md, "Connecting to Kafka"). A key is refused unless its value is one of the
/// values the role already uses, so a file that repeats a safe setting still loads.
/// </summary>
internal static class KafkaSettingPolicy
{
    private sealed record Rule(string[] Allowed, string Reason);

    private static readonly Dictionary<string, Rule> Rules = new(StringComparer.Ordinal)
    {
        ["bootstrap.servers"] = new([], "the cluster is named by --bootstrap, so each role's command line says which cluster it uses"),
        ["metadata.broker.list"] = new([], "the cluster is named by --bootstrap, so each role's command line says which cluster it uses"),
        ["group.id"] = new([], "the role sets it (extract --group); every extractor of one deployment must share one group"),
        ["client.id"] = new([], "each role names its own clients (feedbackloop-collector, feedbackloop-extractor, ...) so broker logs and quotas tell them apart"),
        ["enable.auto.commit"] = new(["false"], "the extractor commits an offset only after the rows before it are durable; an automatic commit would skip records not yet written"),
        ["enable.auto.offset.store"] = new(["false"], "the extractor stores an offset only after the record was handled"),
        ["enable.idempotence"] = new(["true"], "without idempotence a retried send can write an event twice or out of order within its session"),
        ["acks"] = new(["all", "-1"], "an event is acknowledged to the sender only once every in-sync replica has it (acks=all); fewer loses acknowledged events when a leader fails"),
        ["request.required.acks"] = new(["all", "-1"], "an event is acknowledged to the sender only once every in-sync replica has it (acks=all); fewer loses acknowledged events when a leader fails"),
        ["isolation.level"] = new(["read_committed"], "read_uncommitted lets the extractor train on records of transactions that were later aborted"),
        ["auto.offset.reset"] = new(["earliest", "smallest", "beginning"], "a group without a committed offset must start at the oldest record, or it skips the feedback already in the topic"),
        ["enable.partition.eof"] = new(["true"], "the extractor learns that a partition is caught up from its end-of-partition events"),
        ["partition.assignment.strategy"] = new(["roundrobin"], "the extractor's rebalance handling (commit on revoke) is written for eager round-robin assignment"),
        ["allow.auto.create.topics"] = new(["false"], "topics are created by `feedbackloop topics ensure` with replication 3 and min.insync.replicas 2; an auto-created topic gets the broker's defaults"),
        ["transactional.id"] = new([], "the roles' producers are idempotent, not transactional; one id shared by every instance would fence them against each other"),
        ["message.timeout.ms"] = new([], "the collector derives its delivery timeout from its answer budget (docs/COLLECTOR.md)"),
        ["delivery.timeout.ms"] = new([], "the collector derives its delivery timeout from its answer budget (docs/COLLECTOR.md)"),
        ["plugin.library.paths"] = new([], "it loads native code into the process; a configuration file must not be able to do that"),
    };

    /// <summary>Why <paramref name="key"/> may not be set to <paramref name="value"/>, or null when it may.</summary>
    public static string? Refusal(string key, string value)
    {
        // librdkafka's in-memory test cluster would take the real cluster's place and keep only the newest records.
        if (key.StartsWith("test.mock.", StringComparison.Ordinal))
            return "it starts librdkafka's in-memory test cluster in place of the real one";
        if (!Rules.TryGetValue(key, out var rule)) return null;
        return rule.Allowed.Contains(value.Trim().ToLowerInvariant(), StringComparer.Ordinal) ? null : rule.Reason;
    }

    /// <summary>Every key the policy governs, for the docs and for tests.</summary>
    public static IEnumerable<string> GovernedKeys => Rules.Keys;
}
