using System.CommandLine;
using System.Globalization;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Cli.Commands;

/// <summary>The options every hosted command (serve, extract) shares, and how they reach the host's configuration.</summary>
internal static class HostOptionsCli
{
    public static Option<int?> MetricsPort() => new("--metrics-port")
    {
        Description = $"Serve Prometheus metrics (/metrics) and health (/healthz) on this localhost port (config {FeedbackLoopHost.MetricsPortKey}).",
    };

    /// <summary>
    /// <c>--pipeline</c>: the pipelines file, the same for serve and extract, so the extractor applies the rules and
    /// knows the registered apps the orchestrator trains.
    /// </summary>
    public static Option<FileInfo?> Pipeline() => new("--pipeline")
    {
        Description = "Pipelines file (YAML): the apps that may train (apps:) and their rules. Without it: built-in defaults and no registered app, so nothing trains.",
    };

    /// <summary>The pipeline <c>--pipeline</c> names; without one, built-in defaults and no registered app.</summary>
    /// <exception cref="PipelineException">The file is unreadable as a pipeline; the message says where and why.</exception>
    public static PipelineDefinition LoadPipeline(FileInfo? file) =>
        file is null ? new PipelineDefinition("the built-in pipeline (pass --pipeline <file>)", AppPipeline.Builtin, new Dictionary<string, AppPipeline>())
            : PipelineLoader.Load(file.FullName);

    /// <summary>The options as configuration keys, so they win over appsettings.json and the environment.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Overrides(int? metricsPort) =>
        metricsPort is { } port ? [new(FeedbackLoopHost.MetricsPortKey, port.ToString(CultureInfo.InvariantCulture))] : [];
}
