using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Status;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop extract status</c>: the extractors' consumer group on the events topic, per partition: committed
/// offset, log start and end, lag and records lost, and which instance holds which partitions (docs/DEPLOY.md,
/// "Is extraction keeping up?"). Reads only; a running extractor is not disturbed.
/// </summary>
internal static class ExtractStatusCommand
{
    /// <summary>Exit code when the cluster could not be read or the topic is missing.</summary>
    public const int ClusterExitCode = 1;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static Command Create()
    {
        var group = new Option<string>("--group") { Description = "The extractors' consumer group id.", DefaultValueFactory = _ => ExtractCommand.DefaultGroup };
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers (host:port,...).", Required = true };
        var kafkaConfig = KafkaConfigCli.Option();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("status",
            $"Show the extractors' progress: per partition the committed offset, log start and end, lag and records lost (exit {ExtractCommand.RecordsLostExitCode} when any were lost), and the group's members.")
        {
            bootstrap, kafkaConfig, group, json,
        };
        command.SetAction((parse, _) => RunAsync(parse.GetRequiredValue(bootstrap), parse.GetValue(kafkaConfig), parse.GetValue(group)!, parse.GetValue(json),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static async Task<int> RunAsync(string bootstrap, FileInfo? kafkaConfigFile, string group, bool json, TextWriter output, TextWriter error)
    {
        if (await KafkaConfigCli.LoadAsync(kafkaConfigFile, error).ConfigureAwait(false) is not { } properties) return 2;
        GroupStatus status;
        try
        {
            status = await GroupStatus.ReadAsync(bootstrap, properties, group, KafkaTopics.Events, Timeout).ConfigureAwait(false);
        }
        catch (KafkaException e)
        {
            await error.WriteLineAsync($"Kafka at {bootstrap}: {e.Error.Reason} ({e.Error.Code}). Check --bootstrap and --kafka-config.").ConfigureAwait(false);
            return ClusterExitCode;
        }
        catch (InvalidOperationException e)
        {
            await error.WriteLineAsync(e.Message + ". Run `feedbackloop topics ensure`, or check --bootstrap.").ConfigureAwait(false);
            return ClusterExitCode;
        }

        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(ToJson(status), RegistryFile.Json)).ConfigureAwait(false);
        }
        else
        {
            await WriteTableAsync(status, output).ConfigureAwait(false);
        }
        return status.Lost > 0 ? ExtractCommand.RecordsLostExitCode : 0;
    }

    private static async Task WriteTableAsync(GroupStatus status, TextWriter output)
    {
        var members = status.Members is null ? "members not described by this cluster" : $"{status.Members.Count} member(s)";
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"group {status.Group} on {status.Topic}: {status.GroupState ?? "state unknown"}, {members}, lag {status.Lag}, lost {status.Lost}")).ConfigureAwait(false);
        await output.WriteLineAsync($"{"partition",9}  {"committed",12}  {"log start",12}  {"log end",12}  {"lag",10}  {"lost",10}  state").ConfigureAwait(false);
        foreach (var p in status.Partitions)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{p.Partition,9}  {(p.Committed is { } c ? c.ToString(CultureInfo.InvariantCulture) : "-"),12}  {p.LogStart,12}  {p.LogEnd,12}  {p.Lag,10}  {p.Lost,10}  {StateText(p.State)}")).ConfigureAwait(false);
        }
        foreach (var member in status.Members ?? [])
        {
            await output.WriteLineAsync($"member {member.ClientId} on {member.Host}: partitions {(member.Partitions.Count == 0 ? "none" : string.Join(',', member.Partitions))}").ConfigureAwait(false);
        }
    }

    private static string StateText(PartitionState state) => state switch
    {
        PartitionState.CaughtUp => "caught up",
        PartitionState.Lagging => "lagging",
        PartitionState.NoCommit => "no commit yet",
        PartitionState.RecordsLost => "RECORDS LOST (deleted before they were read)",
        _ => state.ToString(),
    };

    private static object ToJson(GroupStatus status) => new
    {
        status.Group,
        status.Topic,
        State = status.GroupState,
        status.Lag,
        status.Lost,
        Members = status.Members?.Select(m => new { m.ClientId, m.Host, m.Partitions }),
        Partitions = status.Partitions.Select(p => new { p.Partition, p.Committed, p.LogStart, p.LogEnd, p.Lag, p.Lost, p.State }),
    };
}
