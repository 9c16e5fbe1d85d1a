using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Jobs;

/// <summary>
/// Sends a job's offer to the workers' queue when the store says it is due: its first offer, a retry after its backoff,
/// or an offer nobody claimed within <see cref="OrchestratorOptions.OfferAgainAfter"/>. The store decides and records
/// the offer in one transaction, so two callers never offer the same attempt twice in a row.
/// </summary>
internal sealed partial class JobOffers(JobStore jobs, OrchestratorOptions options, ILogger<JobOffers> logger)
{
    /// <summary>Offers <paramref name="jobId"/> if its offer is due.</summary>
    public async Task OfferIfDueAsync(string jobId, ISendEndpointProvider bus, CancellationToken cancellationToken)
    {
        if (jobs.TryOffer(jobId, options.OfferAgainAfter) is { } offer)
        {
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:" + LoopQueues.Jobs)).ConfigureAwait(false);
            await endpoint.Send(offer, cancellationToken).ConfigureAwait(false);
            LogOffered(logger, offer.JobId, offer.Attempt);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Offered attempt {Attempt} of job {JobId}")]
    private static partial void LogOffered(ILogger logger, string jobId, int attempt);
}
