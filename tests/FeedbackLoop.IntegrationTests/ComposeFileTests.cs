using System.Diagnostics;
using FeedbackLoop.Cli;
using FeedbackLoop.Kafka.Configuration;
using YamlDotNet.RepresentationModel;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The shipped <c>docker-compose.yml</c>, checked the only way this machine can (no image can be pulled): Debian's
/// <c>docker-compose config</c> accepts it, the topology is the one docs/DEPLOY.md describes, and every FeedbackLoop
/// container's command parses with the CLI's own command tree, without running it.
/// </summary>
public sealed class ComposeFileTests
{
    private static readonly string[] Roles =
        ["topics", "collector", "extractor-1", "extractor-2", "orchestrator", "worker-cpu", "worker-gpu", "review"];

    [Fact]
    public async Task Docker_compose_accepts_the_file_and_every_role_runs_a_command_the_cli_knows()
    {
        var services = await ConfigAsync();

        Assert.Equal(
            ["collector", "extractor-1", "extractor-2", "kafka-1", "kafka-2", "kafka-3", "orchestrator", "postgres", "rabbitmq", "review", "topics", "worker-cpu", "worker-gpu"],
            services.Keys.Order(StringComparer.Ordinal));

        foreach (var role in Roles)
        {
            var command = Strings(services[role]["command"]);
            var parse = CliCommands.Root().Parse(command);
            Assert.True(parse.Errors.Count == 0, $"{role}: `feedbackloop {string.Join(' ', command)}`: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            Assert.True(parse.CommandResult.Command.Action is not null, $"{role}: `{string.Join(' ', command)}` names a command group, not a command");
            Assert.StartsWith("feedbackloop", Scalar(services[role]["image"]), StringComparison.Ordinal);
        }
        Assert.Equal("topics ensure", string.Join(' ', Strings(services["topics"]["command"]).Take(2)));
    }

    [Fact]
    public async Task The_kafka_cluster_loses_nothing_and_roles_start_after_the_topics()
    {
        var services = await ConfigAsync();
        for (var id = 1; id <= 3; id++)
        {
            var environment = (YamlMappingNode)services[$"kafka-{id}"]["environment"];
            Assert.Equal(id.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(environment["KAFKA_NODE_ID"]));
            Assert.Equal("3", Scalar(environment["KAFKA_DEFAULT_REPLICATION_FACTOR"]));
            Assert.Equal("2", Scalar(environment["KAFKA_MIN_INSYNC_REPLICAS"]));
            Assert.Equal("3", Scalar(environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]));
            Assert.Equal("false", Scalar(environment["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"]));
            Assert.Equal("false", Scalar(environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]));
            Assert.Equal("1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093", Scalar(environment["KAFKA_CONTROLLER_QUORUM_VOTERS"]));
        }

        // The roles that read or write Kafka wait until ensure has exited 0, and pass the same client properties file.
        foreach (var role in new[] { "collector", "extractor-1", "extractor-2" })
        {
            var dependsOn = (YamlMappingNode)services[role]["depends_on"];
            Assert.Equal("service_completed_successfully", Scalar(dependsOn["topics"]["condition"]));
        }
        foreach (var role in new[] { "topics", "collector", "extractor-1", "extractor-2" })
        {
            var command = Strings(services[role]["command"]);
            Assert.Equal("/etc/feedbackloop/kafka-client.properties", command[command.IndexOf("--kafka-config") + 1]);
        }
        var (properties, errors) = KafkaConfigFile.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "kafka-client.properties")), _ => null);
        Assert.Empty(errors);
        Assert.Contains("security.protocol", properties!.Keys);
    }

    [Fact]
    public async Task The_gpu_worker_is_under_a_profile_with_a_device_reservation_and_every_long_running_role_has_a_health_check()
    {
        var services = await ConfigAsync();
        var gpu = services["worker-gpu"];
        Assert.Equal(["gpu"], Strings(gpu["profiles"]));
        var device = (YamlMappingNode)((YamlSequenceNode)gpu["deploy"]["resources"]["reservations"]["devices"]).Children.Single();
        Assert.Equal("nvidia", Scalar(device["driver"]));
        Assert.Equal(["gpu"], Strings(device["capabilities"]));
        Assert.False(((YamlMappingNode)services["worker-cpu"]).Children.ContainsKey("profiles"));

        foreach (var role in Roles.Where(r => r != "topics").Concat(["kafka-1", "kafka-2", "kafka-3", "rabbitmq", "postgres"]))
        {
            var check = (YamlMappingNode)services[role]["healthcheck"];
            Assert.True(check.Children.ContainsKey("test"), $"{role} has no health check");
        }
        foreach (var role in Roles.Where(r => r != "topics"))
        {
            // The image's health check reads /healthz on FEEDBACKLOOP_HEALTH_PORT: each role must serve it there.
            var command = Strings(services[role]["command"]);
            var port = Scalar(services[role]["environment"]["FEEDBACKLOOP_HEALTH_PORT"]);
            Assert.Equal(port, command[command.IndexOf("--metrics-port") + 1]);
        }
    }

    [Fact]
    public async Task Each_worker_takes_its_own_pool_and_the_orchestrator_and_workers_share_the_job_key()
    {
        var services = await ConfigAsync();
        Assert.Equal("cpu", PoolOf(services["worker-cpu"]));
        Assert.Equal("gpu", PoolOf(services["worker-gpu"]));
        foreach (var role in new[] { "orchestrator", "worker-cpu", "worker-gpu" })
        {
            Assert.Equal(JobKey, Scalar(services[role]["environment"]["FEEDBACKLOOP_JOB_KEY"]));
        }
        // Only the roles that sign or check offers hold the key.
        foreach (var role in new[] { "collector", "extractor-1", "extractor-2", "review" })
        {
            Assert.False(((YamlMappingNode)services[role]["environment"]).Children.ContainsKey("FEEDBACKLOOP_JOB_KEY"), $"{role} holds the job key");
        }

        static string PoolOf(YamlNode service)
        {
            var command = Strings(service["command"]);
            return command[command.IndexOf("--pool") + 1];
        }
    }

    [Fact]
    public async Task A_missing_secret_stops_docker_compose_with_its_name()
    {
        var (exit, _, error) = await DockerComposeAsync(new Dictionary<string, string?> { ["POSTGRES_PASSWORD"] = "p" }, "config");
        Assert.NotEqual(0, exit);
        Assert.Contains("RABBITMQ_PASSWORD", error, StringComparison.Ordinal);
    }

    private const string JobKey = "test-job-key-0123456789abcdef0123456789";

    private static async Task<Dictionary<string, YamlNode>> ConfigAsync()
    {
        var (exit, output, error) = await DockerComposeAsync(
            new Dictionary<string, string?> { ["RABBITMQ_PASSWORD"] = "test-rabbit", ["POSTGRES_PASSWORD"] = "test-postgres", ["FEEDBACKLOOP_JOB_KEY"] = JobKey },
            "--profile", "gpu", "config");
        Assert.True(exit == 0, $"docker-compose config exited {exit}: {error}");
        var yaml = new YamlStream();
        yaml.Load(new StringReader(output));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return ((YamlMappingNode)root["services"]).Children.ToDictionary(p => Scalar(p.Key), p => p.Value, StringComparer.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> DockerComposeAsync(Dictionary<string, string?> environment, params string[] arguments)
    {
        const string tool = "/usr/bin/docker-compose";
        Assert.True(File.Exists(tool), $"{tool} is missing: run ./test.sh, which installs Debian's docker-compose (apt-get install docker-compose).");
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = RepositoryRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-f", "docker-compose.yml", .. arguments]) start.ArgumentList.Add(argument);
        // Only what the test sets: a secret in the developer's own environment must not make the missing-secret test pass.
        start.Environment.Remove("RABBITMQ_PASSWORD");
        start.Environment.Remove("POSTGRES_PASSWORD");
        start.Environment.Remove("FEEDBACKLOOP_JOB_KEY");
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("docker-compose did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await output, await error);
    }

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    private static List<string> Strings(YamlNode node) => [.. ((YamlSequenceNode)node).Children.Select(Scalar)];

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "FeedbackLoop.sln"))) return folder.FullName;
        }
        throw new InvalidOperationException("the tests do not run inside the repository: no FeedbackLoop.sln above " + AppContext.BaseDirectory);
    }
}
