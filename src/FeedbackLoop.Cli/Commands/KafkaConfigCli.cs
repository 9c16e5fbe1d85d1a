using System.CommandLine;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Cli.Commands;

/// <summary><c>--kafka-config</c>, the same on every command that talks to Kafka (docs/DEPLOY.md, "Connecting to Kafka").</summary>
internal static class KafkaConfigCli
{
    public static Option<FileInfo?> Option() => new("--kafka-config")
    {
        Description = "librdkafka properties file (key=value lines: security.protocol, sasl.*, ssl.*); ${NAME} takes a value, such as a password, "
            + "from the environment. Settings the loop's correctness rests on (acks, idempotence, auto commit, ...) are refused with the reason.",
    };

    /// <summary>The file's properties, none without the option; null after writing the reason to <paramref name="error"/>.</summary>
    public static async Task<KafkaClientProperties?> LoadAsync(FileInfo? file, TextWriter error)
    {
        if (file is null) return KafkaClientProperties.None;
        try
        {
            return KafkaConfigFile.Load(file.FullName, Environment.GetEnvironmentVariable);
        }
        catch (KafkaConfigException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return null;
        }
    }
}
