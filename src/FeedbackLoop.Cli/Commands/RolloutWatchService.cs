using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Rollouts;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// The orchestrator's rollout monitor as a hosted service (<c>serve --watch-rollouts</c>, every 30 s by default): each
/// look reads the engagement datasets of the apps with an active rollout and stores the decision; the supervisor's
/// next sweep announces a promotion or rollback from the store.
/// </summary>
internal sealed partial class RolloutWatchService(RolloutMonitor monitor, TimeSpan every, ILogger<RolloutWatchService> logger) : BackgroundService
{
    /// <summary>The monitor on the host's store, reading the engagement datasets under <paramref name="data"/>.</summary>
    public static RolloutMonitor Monitor(IServiceProvider services, string data) => new(
        services.GetRequiredService<ModelRegistry>(),
        (app, cancellationToken) => DatasetReader.ReadEngagementTotalsAsync(data, app, cancellationToken),
        new SequentialTestOptions(),
        services.GetRequiredService<OrchestrationTelemetry>(),
        services.GetService<TimeProvider>() ?? TimeProvider.System,
        services.GetRequiredService<ILogger<RolloutMonitor>>());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await monitor.LookAsync(stoppingToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // The next look tries again; the orchestrator must outlive a failed one (an unreadable file, a busy store).
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    LogLookFailed(logger, Durations.Format(every), e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "rollout look failed (next one in {Every}): {Reason}")]
    private static partial void LogLookFailed(ILogger logger, string every, string reason);
}
