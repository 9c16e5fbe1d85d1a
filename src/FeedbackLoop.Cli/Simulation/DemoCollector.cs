using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Collector;
using FeedbackLoop.Collector.Keys;
using Microsoft.AspNetCore.Builder;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>
/// <c>demo --via-collector</c>: the collector as <c>serve --role collector</c> builds it, on loopback in the demo's process,
/// with a write key of the demo's app in the output folder, so the app's events take the HTTP path apps without Kafka use.
/// </summary>
internal sealed class DemoCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DemoCollector(WebApplication app, Uri url, string key)
    {
        _app = app;
        Url = url;
        Key = key;
    }

    public Uri Url { get; }

    public string Key { get; }

    public static async Task<DemoCollector> StartAsync(string bootstrap, string outputDirectory, string appId, CancellationToken ct)
    {
        var keysFile = Path.Combine(outputDirectory, "collector-keys.json");
        File.Delete(keysFile);
        var key = new WriteKeyFile(keysFile).Create(appId, DateTimeOffset.UtcNow).Key;
        var app = CollectorServe.Build(new CollectorOptions { BootstrapServers = bootstrap, KeysFile = keysFile }, "http://127.0.0.1:0");
        await app.StartAsync(ct).ConfigureAwait(false);
        return new DemoCollector(app, new Uri(CollectorServe.ListeningUrl(app)), key);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
