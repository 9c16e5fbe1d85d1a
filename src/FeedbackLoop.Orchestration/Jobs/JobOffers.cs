using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>
/// Sends a job's offer to the queue of the job's worker pool when the store says it is due: its first offer, a retry
/// after its backoff, or an offer nobody claimed within <see cref="OrchestratorOptions.OfferAgainAfter"/>. The store
/// decides and records the offer in one transaction, so two callers never offer the same attempt twice in a row. An
/// offer sent again because nobody claimed it is counted and logged as a warning: most often no worker of that pool
/// runs, and the job waits (it is never lost) until one does.
/// </summary>
internal sealed partial class JobOffers(JobStore jobs, OrchestratorOptions options, JobSigner signer, OrchestrationTelemetry telemetry, ILogger<JobOffers> logger)
{
    /// <summary>Offers <paramref name="jobId"/> if its offer is due.</summary>
    public async Task OfferIfDueAsync(string jobId, ISendEndpointProvider bus, CancellationToken cancellationToken)
    {
        if (jobs.TryOffer(jobId, options.OfferAgainAfter, out var unclaimed) is { } offer)
        {
            var pool = offer.Spec.Pool;
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.JobsOf(pool))).ConfigureAwait(false);
            await endpoint.Send(signer.Sign(offer), cancellationToken).ConfigureAwait(false);
            if (unclaimed)
            {
                telemetry.OfferUnclaimed(pool);
                LogUnclaimed(logger, offer.JobId, offer.Attempt, pool, options.OfferAgainAfter.TotalSeconds);
            }
            else
            {
                LogOffered(logger, offer.JobId, offer.Attempt, pool);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Offered attempt {Attempt} of job {JobId} to pool {Pool}")]
    private static partial void LogOffered(ILogger logger, string jobId, int attempt, string pool);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Attempt {Attempt} of job {JobId} was not claimed within {Seconds} s and is offered again: is a worker of pool {Pool} running (serve --role worker --pool {Pool})?")]
    private static partial void LogUnclaimed(ILogger logger, string jobId, int attempt, string pool, double seconds);
}
