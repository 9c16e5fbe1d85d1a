using FeedbackLoop.Review.Queue;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Review.Hosting;

/// <summary>
/// Builds each app's list index when the server starts, so the first reviewer to open a list does not wait for a full read
/// of the app's files (seconds per million pairs, docs/adr/0040). A request that comes earlier waits for the same build;
/// a failure here is logged and left for that request to report.
/// </summary>
internal sealed partial class ReviewIndexWarmup(ReviewData data, ILogger<ReviewIndexWarmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path: the host is listening before the first file is read.
        await Task.Yield();
        foreach (var app in data.Apps())
        {
            try
            {
                await data.QueryAsync(app, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A warm-up must never stop the host; the list request reports the same failure to the reviewer.
            catch (Exception e)
#pragma warning restore CA1031
            {
                WarmupFailed(app, e.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The review list index of app {AppId} could not be built at start ({Error}); the list page will retry.")]
    private partial void WarmupFailed(string appId, string error);
}
