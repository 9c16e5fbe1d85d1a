using System.Globalization;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Review.Hosting;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop serve --role review</c>: the review app on Kestrel, on the host every role shares (logs on stderr,
/// <c>--metrics-port</c>, bounded shutdown). Like the collector, its first stdout line is <c>listening=&lt;url&gt;</c>.
/// </summary>
internal static class ReviewServe
{
    public static async Task<int> RunAsync(string dataRoot, string store, string urls, int? metricsPort, bool verbose, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Path.Combine(dataRoot, "datasets")))
        {
            await error.WriteLineAsync($"No datasets under {dataRoot}: run `extract` first, or pass --data <folder>.").ConfigureAwait(false);
            return 2;
        }
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.AddFeedbackLoopDefaults("serve-review", verbose, HostOptionsCli.Overrides(metricsPort));
        builder.WebHost.UseUrls(urls);
        builder.Services.AddReviewApp(dataRoot, Models(store));
        var app = builder.Build();
        app.MapReviewApp();
        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                await error.WriteLineAsync($"the review app could not listen on {urls}: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            app.MarkStarted();
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{CollectorServe.ListeningLinePrefix}{CollectorServe.ListeningUrl(app)}")).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>The models page's rows from the orchestrator's store, read on each visit; none when the store does not exist.</summary>
    private static ModelCatalog Models(string store)
    {
        if (StoreLocation.Parse(store).Engine == StoreEngine.Sqlite && !File.Exists(store)) return new ModelCatalog(null, null);
        return new ModelCatalog(app =>
        {
            var registry = new ModelRegistry(store);
            return [.. registry.ListModels(app).Select(entry =>
            {
                var snapshot = registry.GetRun(entry.Model.RunId)?.Snapshot;
                return new ModelRow(entry.Model.Version, entry.StatusText, entry.Model.CreatedAt, entry.Model.RunId, snapshot?.SnapshotId,
                    snapshot?.TotalPairs, entry.Decision?.Promoted, entry.Decision?.Reason);
            })];
        }, store);
    }
}
