using System.Globalization;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FeedbackLoop.Orchestration.Hosting;

/// <summary>
/// The one composition every long-running role uses (<c>serve --role …</c>, <c>extract</c>, the demo): configuration
/// (appsettings.json, <c>FEEDBACKLOOP_CONFIG</c>, the environment, then the command's options), logging to stderr,
/// OpenTelemetry metrics and traces, health checks, a bounded graceful shutdown, and MassTransit's usage telemetry off.
/// </summary>
public static class FeedbackLoopHost
{
    /// <summary>Loopback port of the optional HTTP listener: Prometheus scrapes <c>/metrics</c>, operators read <c>/healthz</c>.</summary>
    public const string MetricsPortKey = "FeedbackLoop:Metrics:Port";

    /// <summary>Host name the listener binds (default <c>localhost</c>: nothing off the machine reaches it unless asked).</summary>
    public const string MetricsHostKey = "FeedbackLoop:Metrics:Host";

    /// <summary>OTLP endpoint for metrics and traces; OpenTelemetry's own <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> works too.</summary>
    public const string OtlpEndpointKey = "FeedbackLoop:Otlp:Endpoint";

    /// <summary>How long a stop (SIGTERM, Ctrl+C) may take in all, e.g. <c>9s</c>.</summary>
    public const string ShutdownTimeoutKey = "FeedbackLoop:ShutdownTimeout";

    /// <summary>
    /// The stop's time limit when none is configured: under the 10 s that service managers and container runtimes
    /// commonly give before SIGKILL. A process with a worker role waits longer: its drain (<c>serve --drain-timeout</c>).
    /// </summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(9);

    /// <summary>The meters exported: every FeedbackLoop meter (wildcard) and MassTransit's.</summary>
    public static readonly IReadOnlyList<string> Meters = ["FeedbackLoop.*", "MassTransit"];

    /// <summary>The activity sources traced: every FeedbackLoop source (wildcard) and MassTransit's.</summary>
    public static readonly IReadOnlyList<string> Sources = ["FeedbackLoop.*", "MassTransit"];

    /// <summary>
    /// Composes the defaults onto <paramref name="builder"/> for <paramref name="role"/> (the service name in
    /// telemetry: <c>feedbackloop-&lt;role&gt;</c>). Logs go to stderr (warnings and up; information too when
    /// <paramref name="verbose"/>), so stdout stays for the machine-readable lines. Metrics and traces are exported only
    /// where an exporter is configured, so an unconfigured process pays nothing for them. <paramref name="options"/> are
    /// the command's own options as configuration keys; they win over files and the environment.
    /// </summary>
    public static IHostApplicationBuilder AddFeedbackLoopDefaults(
        this IHostApplicationBuilder builder, string role, bool verbose = false, IEnumerable<KeyValuePair<string, string?>>? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(role);

        // The host reads appsettings.json and the environment; the file FEEDBACKLOOP_CONFIG names goes between them,
        // so the environment still wins over every file.
        builder.Configuration.AddLoopFiles();
        builder.Configuration.AddEnvironmentVariables();
        if (options is not null)
        {
            builder.Configuration.AddInMemoryCollection(options);
        }

        var gate = new StartupLogGate(verbose ? LogLevel.Information : LogLevel.Warning);
        builder.Services.AddSingleton(gate);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter(gate.Allows);

        // No calls home: MassTransit otherwise posts a usage report to its vendor about five minutes after the bus
        // starts (and logs a warning with a stack trace where that server cannot be reached). An operator who wants
        // to send it sets MASSTRANSIT_USAGE_TELEMETRY=true, which MassTransit reads over this option.
        builder.Services.Configure<UsageTelemetryOptions>(o => o.Enabled = false);
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            // The host's start returns once the bus is up (or failed), so the ready line means what it says.
            o.WaitUntilStarted = true;
            o.StopTimeout = TimeSpan.FromSeconds(5);
        });

        var shutdown = builder.Configuration[ShutdownTimeoutKey] is { Length: > 0 } text
            ? Durations.TryParse(text, out var configured) && configured > TimeSpan.Zero
                ? configured
                : throw new ArgumentException($"{ShutdownTimeoutKey} {text}: expected a duration above 0 such as 9s.")
            : DefaultShutdownTimeout;
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        // MassTransit adds its bus check to these when a bus is registered.
        builder.Services.AddHealthChecks().AddCheck<DataFolderHealthCheck>("data-folder", tags: ["ready"]);

        AddTelemetry(builder, role);
        return builder;
    }

    /// <summary>Called once the host has started: from then on MassTransit's and the host's own warnings are logged again.</summary>
    public static void MarkStarted(this IHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.Services.GetService<StartupLogGate>()?.Open();
    }

    private static void AddTelemetry(IHostApplicationBuilder builder, string role)
    {
        var otlp = builder.Configuration[OtlpEndpointKey] ?? builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var port = builder.Configuration[MetricsPortKey] is { Length: > 0 } portText
            ? int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p
                : throw new ArgumentException($"{MetricsPortKey} {portText}: expected a TCP port from 1 to 65535.")
            : (int?)null;
        var host = builder.Configuration[MetricsHostKey] is { Length: > 0 } h ? h : "localhost";
        if (port is { } listen)
        {
            builder.Services.AddSingleton(new HealthEndpointOptions(host, listen));
            builder.Services.AddHostedService<HealthEndpoint>();
        }

        if (otlp is null && port is null)
        {
            return;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("feedbackloop-" + role, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. Meters]);
                if (otlp is not null)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
                }

                if (port is { } listen)
                {
                    metrics.AddPrometheusHttpListener(o =>
                    {
                        o.Host = host;
                        o.Port = listen;
                    });
                }
            });
        if (otlp is not null)
        {
            telemetry.WithTracing(tracing => tracing.AddSource([.. Sources]).AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));
        }
    }
}

/// <summary>
/// Holds back MassTransit's and the host's own log lines until the host has started. A failed start (a wrong password,
/// an unreachable broker) otherwise prints several stack traces before the one line that says what to check; once
/// started, their warnings (a lost connection, a faulted consumer) are what an operator needs to see.
/// </summary>
/// <remarks>
/// A filter function replaces the minimum level for the categories it covers, so the gate applies the level itself.
/// </remarks>
internal sealed class StartupLogGate(LogLevel minimum)
{
    private volatile bool _open;

    public void Open() => _open = true;

    public bool Allows(string? provider, string? category, LogLevel level) =>
        level >= minimum && (_open || level >= LogLevel.Critical || category is null
        || !(category.StartsWith("MassTransit", StringComparison.Ordinal) || category.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal)
            || category.StartsWith("Microsoft.Hosting", StringComparison.Ordinal)));
}

/// <summary>The data folder (and the store's folder, where this process has one) exist: without them the role can do nothing.</summary>
internal sealed class DataFolderHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<LoopLocations>() is not { } locations)
        {
            return Task.FromResult(HealthCheckResult.Healthy("no data folder in this role"));
        }

        if (!Directory.Exists(locations.Data))
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the data folder {locations.Data} is missing"));
        }

        return Task.FromResult(HealthCheckResult.Healthy(locations.Data));
    }
}
