using System.CommandLine;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Topics;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop topics ensure</c>: creates the loop's topics or checks them, with replication 3,
/// <c>min.insync.replicas</c> 2, unclean election off and the documented retention (docs/DEPLOY.md, "Topics").
/// The decision is <see cref="TopicPlan"/>; this is its shell.
/// </summary>
internal static class TopicsCommand
{
    /// <summary>Exit code when ensure refused (nothing was changed), or <c>--check</c> found a difference.</summary>
    public const int RefusedExitCode = 1;

    /// <summary>Exit code when the cluster could not be reached or refused a change.</summary>
    public const int ClusterExitCode = 3;

    /// <summary>Retention of the dead-letter topic: long enough for a person to look at what was refused.</summary>
    public const int DeadLetterRetentionDays = 30;

    public static Command Create()
    {
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers (host:port,...).", Required = true };
        var kafkaConfig = KafkaConfigCli.Option();
        var partitions = new Option<int>("--partitions")
        {
            Description = $"Partitions of the events topic when it is created (an extractor instance per partition at most). Default {KafkaTopics.DefaultEventPartitions}.",
            DefaultValueFactory = _ => KafkaTopics.DefaultEventPartitions,
        };
        var retentionDays = new Option<int>("--retention-days")
        {
            Description = $"Keep events at least this many days: longer than extractors could ever fall behind. Default 7; dead letters keep at least {DeadLetterRetentionDays}.",
            DefaultValueFactory = _ => 7,
        };
        var allowUnsafe = new Option<bool>("--allow-unsafe")
        {
            Description = "Accept fewer than 3 replicas (a single-broker development cluster) and settings the cluster will not describe; printed loudly. Never in production.",
        };
        var check = new Option<bool>("--check") { Description = "Change nothing: print what ensure would do and exit 1 when anything differs." };

        var ensure = new Command("ensure", "Create the loop's Kafka topics, or check and fix their settings (replication 3, min.insync.replicas 2, retention); refuses unsafe ones with the reason.")
        {
            bootstrap, kafkaConfig, partitions, retentionDays, allowUnsafe, check,
        };
        ensure.SetAction((parse, _) => EnsureAsync(
            parse.GetRequiredValue(bootstrap), parse.GetValue(kafkaConfig), parse.GetValue(partitions), parse.GetValue(retentionDays), parse.GetValue(allowUnsafe),
            parse.GetValue(check), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));

        return new Command("topics", "The loop's Kafka topics.") { ensure };
    }

    /// <summary>The topics the loop uses, as production needs them.</summary>
    public static IReadOnlyList<DesiredTopic> Desired(int eventPartitions, int retentionDays) =>
    [
        new(KafkaTopics.Events, eventPartitions, TopicPlan.SafeReplicationFactor, TopicPlan.SafeMinInsyncReplicas, Days(retentionDays)),
        new(KafkaTopics.DeadLetters, KafkaTopics.DefaultDeadLetterPartitions, TopicPlan.SafeReplicationFactor, TopicPlan.SafeMinInsyncReplicas,
            Days(Math.Max(retentionDays, DeadLetterRetentionDays))),
    ];

    private static long Days(int days) => days * 24L * 60 * 60 * 1000;

    private static async Task<int> EnsureAsync(string bootstrap, FileInfo? kafkaConfigFile, int partitions, int retentionDays, bool allowUnsafe, bool check,
        TextWriter output, TextWriter error)
    {
        if (partitions is < 1 or > 10_000)
        {
            await error.WriteLineAsync("--partitions must be between 1 and 10000, e.g. --partitions 12.").ConfigureAwait(false);
            return 2;
        }
        if (retentionDays is < 1 or > 36_500)
        {
            await error.WriteLineAsync("--retention-days must be between 1 and 36500, e.g. --retention-days 7.").ConfigureAwait(false);
            return 2;
        }
        if (await KafkaConfigCli.LoadAsync(kafkaConfigFile, error).ConfigureAwait(false) is not { } properties) return 2;

        var desired = Desired(partitions, retentionDays);
        try
        {
            using var admin = new TopicAdmin(bootstrap, properties);
            var (brokers, actual) = await admin.DescribeAsync([.. desired.Select(d => d.Name)]).ConfigureAwait(false);
            var decisions = desired.Select(d => (Topic: d.Name, Decision: TopicPlan.Decide(d, actual[d.Name], brokers, allowUnsafe))).ToList();

            var unsafeSettings = decisions.SelectMany(d => d.Decision.Unsafe).ToList();
            if (unsafeSettings.Count > 0)
            {
                await error.WriteLineAsync("!!! UNSAFE (--allow-unsafe): these topics can lose acknowledged events. Never run a production cluster like this:").ConfigureAwait(false);
                foreach (var line in unsafeSettings) await error.WriteLineAsync("!!!   " + line).ConfigureAwait(false);
            }
            foreach (var note in decisions.SelectMany(d => d.Decision.Notes)) await output.WriteLineAsync("note: " + note).ConfigureAwait(false);

            var refusals = decisions.SelectMany(d => d.Decision.Refusals).ToList();
            if (refusals.Count > 0)
            {
                foreach (var refusal in refusals) await error.WriteLineAsync("refused: " + refusal).ConfigureAwait(false);
                await error.WriteLineAsync("Nothing was changed.").ConfigureAwait(false);
                return RefusedExitCode;
            }

            var actions = decisions.SelectMany(d => d.Decision.Actions).ToList();
            foreach (var (topic, decision) in decisions.Where(d => d.Decision.Actions.Count == 0))
                await output.WriteLineAsync($"ok {topic}").ConfigureAwait(false);
            foreach (var action in actions) await output.WriteLineAsync((check ? "would " : "") + action).ConfigureAwait(false);
            if (check) return actions.Count > 0 ? RefusedExitCode : 0;
            await admin.ApplyAsync(actions).ConfigureAwait(false);
            if (actions.Count > 0) await output.WriteLineAsync($"done: {actions.Count} change(s) made").ConfigureAwait(false);
            return 0;
        }
        catch (KafkaException e)
        {
            // The broker's reason (authorization, an unknown setting, no such broker); never a property value.
            await error.WriteLineAsync($"Kafka at {bootstrap}: {e.Error.Reason} ({e.Error.Code}). Check --bootstrap, --kafka-config and that this client may "
                + "describe, create and alter topics.").ConfigureAwait(false);
            return ClusterExitCode;
        }
    }
}
