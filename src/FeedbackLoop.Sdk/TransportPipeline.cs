using FeedbackLoop.Sdk.Spool;
using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk;

/// <summary>A transport that holds events on disk and can be given time to deliver them before exit.</summary>
internal interface ISpoolDrain
{
    /// <summary>Tries to deliver everything spooled within <paramref name="timeout"/>; true when nothing is left.</summary>
    Task<bool> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// Builds the decorator chain from the options: spool (outermost) → health (give-ups) → retry → health (tries) → the app's
/// transport.
/// </summary>
internal static class TransportPipeline
{
    public static IFeedbackTransport Build(IFeedbackTransport transport, FeedbackClientOptions options, FeedbackClientCounters counters, ILogger logger, DeliveryHealth health)
    {
        IFeedbackTransport pipeline = new DeliveryHealthTransport(transport, health, failureIsFinal: options.Retry is null);
        if (options.Retry is { } retry)
        {
            pipeline = new RetryingTransport(pipeline, retry, counters, options.TimeProvider, logger);
            pipeline = new DeliveryHealthTransport(pipeline, health, failureIsFinal: true);
        }
        if (options.Spool is { } spool) pipeline = new SpoolingTransport(pipeline, spool, counters, options.TimeProvider, logger);
        return pipeline;
    }
}
