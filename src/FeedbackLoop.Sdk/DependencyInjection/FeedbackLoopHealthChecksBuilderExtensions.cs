using FeedbackLoop.Sdk.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

// Beside AddHealthChecks() itself, in the namespace apps already import for it.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the SDK's health check to <c>services.AddHealthChecks()</c>.</summary>
public static class FeedbackLoopHealthChecksBuilderExtensions
{
    /// <summary>The health check's default name.</summary>
    public const string DefaultName = "feedbackloop";

    /// <summary>
    /// Reports the state of the transport of the client <c>AddFeedbackLoop</c> registered: healthy while batches are
    /// delivered, degraded while a batch is retried (or the destination refused events), unhealthy once a batch was
    /// given up on; with a disk spool, a give-up is degraded, since the events wait on disk. A misconfigured SDK is
    /// unhealthy, a switched-off one healthy. See docs/SDK.md, "Health check".
    /// </summary>
    public static IHealthChecksBuilder AddFeedbackLoopHealthCheck(
        this IHealthChecksBuilder builder, string name = DefaultName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name, services => new FeedbackLoopHealthCheck(services), failureStatus, tags));
    }
}
