using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Hosting;

/// <summary>Where the health endpoint listens: the same host and port as the Prometheus scrape endpoint.</summary>
internal sealed record HealthEndpointOptions(string Host, int Port);

/// <summary>
/// <c>GET /healthz</c> on the metrics port: 200 when every check is healthy, 503 otherwise, with each check's status and
/// description as JSON. A plain HttpListener, like the Prometheus exporter's, so no web framework is needed; both share
/// the port (the listener routes by path).
/// </summary>
internal sealed partial class HealthEndpoint(HealthEndpointOptions options, HealthCheckService health, ILogger<HealthEndpoint> logger) : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var listener = new HttpListener();
        listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://{options.Host}:{options.Port}/healthz/"));
        try
        {
            listener.Start();
        }
        catch (HttpListenerException e)
        {
            LogCannotListen(logger, options.Host, options.Port, e.Message);
            return;
        }

        using var stop = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // Stopped.
            }

            await AnswerAsync(context, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        using var response = context.Response;
        var report = await health.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        response.StatusCode = report.Status == HealthStatus.Healthy ? 200 : 503;
        response.ContentType = "application/json";
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        }, Json);
        await response.OutputStream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The health endpoint cannot listen on {Host}:{Port}: {Reason}")]
    private static partial void LogCannotListen(ILogger logger, string host, int port, string reason);
}
