using System.CommandLine;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop broker</c>: runs the embedded Kafka-protocol cluster with FeedbackLoop's topics
/// until SIGINT/SIGTERM, so other processes (the SDK, extractors, kcat) can use it without Docker.
/// </summary>
internal static class BrokerCommand
{
    /// <summary>Exit code for options out of range, distinct from System.CommandLine's parse errors (1).</summary>
    public const int InvalidOptionsExitCode = 2;

    /// <summary>Exit code when the cluster could not start (librdkafka missing or refusing).</summary>
    public const int StartFailedExitCode = 1;

    /// <summary>Prefix of the first stdout line; scripts and tests read the bootstrap list after it.</summary>
    public const string BootstrapLinePrefix = "bootstrap=";

    private const int MaxBrokers = 10;
    private const int MaxPartitions = 256;

    public static Command Create()
    {
        var brokers = new Option<int>("--brokers")
        {
            Description = $"Number of brokers (1..{MaxBrokers}); topics are replicated to min(3, brokers).",
            DefaultValueFactory = _ => 3,
        };
        var partitions = new Option<int>("--partitions")
        {
            Description = $"Partitions of {KafkaTopics.Events} (1..{MaxPartitions}).",
            DefaultValueFactory = _ => KafkaTopics.DefaultEventPartitions,
        };

        var command = new Command("broker", "Run the embedded Kafka-protocol cluster standalone.");
        command.Options.Add(brokers);
        command.Options.Add(partitions);
        command.SetAction((parseResult, cancellationToken) => RunAsync(
            parseResult.GetValue(brokers),
            parseResult.GetValue(partitions),
            parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(int brokers, int partitions, TextWriter output, TextWriter error, CancellationToken stopping)
    {
        if (brokers is < 1 or > MaxBrokers)
        {
            await error.WriteLineAsync($"--brokers {brokers} is out of range: pass a value from 1 to {MaxBrokers} (default 3).").ConfigureAwait(false);
            return InvalidOptionsExitCode;
        }

        if (partitions is < 1 or > MaxPartitions)
        {
            await error.WriteLineAsync($"--partitions {partitions} is out of range: pass a value from 1 to {MaxPartitions} (default {KafkaTopics.DefaultEventPartitions}).").ConfigureAwait(false);
            return InvalidOptionsExitCode;
        }

        // Signals become a graceful stop before anything is printed (see GracefulStop for the window this closes).
        using var stop = new GracefulStop(stopping);

        EmbeddedKafkaCluster cluster;
        try
        {
            cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers, partitions);
        }
        catch (Exception ex) when (ex is DllNotFoundException or KafkaException)
        {
            await error.WriteLineAsync($"The embedded Kafka cluster could not start: {ex.Message}").ConfigureAwait(false);
            return StartFailedExitCode;
        }

        using (cluster)
        {
            // The first stdout line is the machine-readable contract: callers wait for it before
            // connecting, so it must leave the process now rather than when a buffer fills.
            await output.WriteLineAsync(BootstrapLinePrefix + cluster.BootstrapServers).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);

            var replicationFactor = Math.Min(3, brokers);
            await error.WriteLineAsync(
                "The embedded cluster is for development, demos and tests: it keeps data in memory only, about 5 MiB (or 100,000 records) "
                + "per partition, and deletes the oldest records past that without telling producers. In production run Kafka (docs/DEPLOY.md).").ConfigureAwait(false);
            await error.WriteLineAsync(
                $"Embedded Kafka cluster: {brokers} broker(s); topics {KafkaTopics.Events} ({partitions} partitions) "
                + $"and {KafkaTopics.DeadLetters} ({KafkaTopics.DefaultDeadLetterPartitions} partition), RF {replicationFactor}. "
                + "Stop with Ctrl+C or SIGTERM.").ConfigureAwait(false);

            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsStopRequested)
            {
                // The normal way out.
            }
        }

        return 0;
    }
}
