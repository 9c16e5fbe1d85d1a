using System.Globalization;
using FeedbackLoop.Collector;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop serve --role collector</c>: the HTTP collector on Kestrel, on the host every role shares (logs on
/// stderr, <c>--metrics-port</c>, bounded shutdown). Its first stdout line is <c>listening=&lt;url&gt;</c>, the bound
/// address (the real port when <c>--urls</c> asks for port 0).
/// </summary>
internal static class CollectorServe
{
    /// <summary>Prefix of the first stdout line.</summary>
    public const string ListeningLinePrefix = "listening=";

    /// <summary>Where the collector listens by default: loopback, behind a TLS-terminating proxy (docs/COLLECTOR.md).</summary>
    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>The collector's host, built but not started; the tests start the same one in-process.</summary>
    /// <param name="options">The collector's limits.</param>
    /// <param name="urls">Where to listen.</param>
    /// <param name="metricsPort">The Prometheus port, if any.</param>
    /// <param name="verbose">Log more.</param>
    /// <param name="serving">Where <c>GET /v1/apps/{app}/model</c> reads what each app serves (the store); null answers it 503.</param>
    public static WebApplication Build(CollectorOptions options, string urls, int? metricsPort = null, bool verbose = false, IServingState? serving = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.AddFeedbackLoopDefaults("serve-collector", verbose, HostOptionsCli.Overrides(metricsPort));
        builder.WebHost.UseUrls(urls);
        builder.Services.AddCollector(options, serving);
        var app = builder.Build();
        app.MapCollector();
        return app;
    }

    /// <summary>The first address Kestrel bound.</summary>
    public static string ListeningUrl(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? throw new InvalidOperationException("Kestrel bound no address");

    public static async Task<int> RunAsync(
        CollectorOptions options, string urls, int? metricsPort, bool verbose, string? store, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        WebApplication app;
        try
        {
            // The collector only reads the store (WAL lets it read while the orchestrator writes); it never creates one.
            var location = store is null ? null : LoopLocations.Resolve(null, store).Store;
            if (location is not null && StoreLocation.Parse(location).Engine == StoreEngine.Sqlite && !File.Exists(location))
            {
                throw new FileNotFoundException($"no store at {location}: --store names the orchestrator's registry.db, on the same host");
            }

            app = Build(options, urls, metricsPort, verbose, location is null ? null : new ModelRegistry(location));
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // Mostly the address: in use, or not one Kestrel can bind.
                await error.WriteLineAsync($"the collector could not listen on {urls}: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            app.MarkStarted();
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{ListeningLinePrefix}{ListeningUrl(app)}")).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        return 0;
    }
}
