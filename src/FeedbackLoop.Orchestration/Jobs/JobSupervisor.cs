using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Telemetry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>How the orchestrator watches jobs.</summary>
public sealed record OrchestratorOptions
{
    /// <summary>How often the supervisor looks for due offers, silent workers, cancel requests and runs to advance.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An offer nobody claimed for this long is sent again (the same attempt). It covers an offer lost with an in-memory
    /// bus; on RabbitMQ the first copy is still queued, and the copy that is claimed second is refused.
    /// </summary>
    public TimeSpan OfferAgainAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A stop sent for a cancelled job is sent again this often until its worker reports the attempt's end.</summary>
    public TimeSpan StopAgainAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the review of an app whose run waits for it (pipeline <c>review.required</c>) is counted again: soon
    /// enough after the decision that completes the share, while the count (id columns and the review log) stays cheap.
    /// </summary>
    public TimeSpan ReviewRecountInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// The orchestrator's durable timer, standing in for a delayed-message scheduler (Debian's RabbitMQ has no
/// delayed-exchange plugin): on each sweep it ends attempts whose workers fell silent or overran, carries out cancel
/// requests, sends the offers that are due (first offers, retries after their backoff, offers nobody took), then calls
/// the host's after-sweep step (the orchestrator advances every running run there; jobs know nothing of runs). It keeps no state of its own: a restarted orchestrator picks up from the store.
/// </summary>
internal sealed partial class JobSupervisor(
    JobStore jobs, JobOffers offers, OrchestrationTelemetry telemetry, OrchestratorOptions options, TimeProvider clock, ILogger<JobSupervisor> logger)
{
    /// <summary>One sweep, then <paramref name="afterSweep"/>; the loop calls it every <see cref="OrchestratorOptions.SweepInterval"/>, tests call it directly.</summary>
    public async Task SweepAsync(IBus bus, CancellationToken cancellationToken, Func<IBus, CancellationToken, Task>? afterSweep = null)
    {
        var expired = jobs.ExpireAttempts();
        var cancelled = jobs.ApplyCancellations(options.StopAgainAfter);
        Count(expired, "expired");
        Count(cancelled, JobOutcomes.Cancelled);
        foreach (var order in expired.Concat(cancelled))
        {
            LogAttemptEnded(logger, order.JobId, order.Attempt, order.Reason);
            if (order.WorkerId is not null)
            {
                await bus.Publish(new StopJob(order.JobId, order.Attempt, order.WorkerId, order.Reason), cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var jobId in jobs.DueForOffer())
        {
            await offers.OfferIfDueAsync(jobId, bus, cancellationToken).ConfigureAwait(false);
        }

        if (afterSweep is not null)
        {
            await afterSweep(bus, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Counts the attempts the orchestrator itself ended (the worker's report of them, if it comes, is stale).</summary>
    private void Count(IReadOnlyList<StopOrder> ended, string outcome)
    {
        foreach (var order in ended)
        {
            telemetry.AttemptEnded(jobs.Get(order.JobId)?.Spec.Kind ?? "unknown", outcome, seconds: null);
        }
    }

    /// <summary>Sweeps until <paramref name="stopping"/> is cancelled; a failed sweep is logged and the next one tries again.</summary>
    public async Task RunAsync(IBus bus, Func<IBus, CancellationToken, Task>? afterSweep, CancellationToken stopping)
    {
        var watched = jobs.WatchAgain();
        if (watched > 0)
        {
            LogResumed(logger, watched);
        }

        using var timer = new PeriodicTimer(options.SweepInterval, clock);
        do
        {
            try
            {
                await SweepAsync(bus, stopping, afterSweep).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The supervisor must outlive a failed sweep (a locked file, a broker blip): the next sweep retries.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogSweepFailed(logger, e);
            }
        }
        while (await WaitAsync(timer, stopping).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attempt {Attempt} of job {JobId} ended: {Reason}")]
    private static partial void LogAttemptEnded(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resumed watching {Count} running or offered job(s) from the store")]
    private static partial void LogResumed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "A supervisor sweep failed; the next one retries")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
