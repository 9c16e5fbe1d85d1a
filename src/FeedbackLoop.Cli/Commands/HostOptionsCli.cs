using System.CommandLine;
using System.Globalization;
using FeedbackLoop.Orchestration.Hosting;

namespace FeedbackLoop.Cli.Commands;

/// <summary>The options every hosted command (serve, extract) shares, and how they reach the host's configuration.</summary>
internal static class HostOptionsCli
{
    public static Option<int?> MetricsPort() => new("--metrics-port")
    {
        Description = $"Serve Prometheus metrics (/metrics) and health (/healthz) on this localhost port (config {FeedbackLoopHost.MetricsPortKey}).",
    };

    /// <summary>The options as configuration keys, so they win over appsettings.json and the environment.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Overrides(int? metricsPort) =>
        metricsPort is { } port ? [new(FeedbackLoopHost.MetricsPortKey, port.ToString(CultureInfo.InvariantCulture))] : [];
}
