using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>The health check of <c>AddFeedbackLoopHealthCheck()</c>; reads the client's delivery state, sends nothing.</summary>
internal sealed class FeedbackLoopHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        IFeedbackClient? client;
        try
        {
            client = (IFeedbackClient?)services.GetService(typeof(IFeedbackClient));
        }
        catch (Exception ex) when (ex is OptionsValidationException or ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // The messages name option paths and rules, never secret values (FeedbackLoopOptionsCheck writes none).
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "FeedbackLoop is misconfigured: " + ex.Message));
        }
        return Task.FromResult(client switch
        {
            FeedbackClient feedback => Report(feedback, context.Registration.FailureStatus),
            null => new HealthCheckResult(context.Registration.FailureStatus, "No IFeedbackClient is registered: call services.AddFeedbackLoop(...)."),
            _ => HealthCheckResult.Healthy("FeedbackLoop is switched off (FeedbackLoop:Enabled is false)."),
        });
    }

    private static HealthCheckResult Report(FeedbackClient client, HealthStatus failureStatus)
    {
        var (state, since, lastError) = client.Health.Snapshot();
        var counters = client.Counters;
        var data = new Dictionary<string, object>
        {
            ["state"] = state.ToString(),
            ["since"] = since.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["sent"] = counters.Sent,
            ["failed"] = counters.Failed,
            ["rejected"] = counters.Rejected,
            ["dropped"] = counters.DroppedTotal(),
            ["queue_depth"] = counters.QueueDepth,
            ["spool_bytes"] = counters.SpoolBytes,
        };
        if (lastError is not null) data["last_error"] = lastError;
        return state switch
        {
            DeliveryState.Delivering => HealthCheckResult.Healthy("Delivering.", data),
            DeliveryState.Retrying => HealthCheckResult.Degraded($"Retrying since {since:O} (last error {lastError}).", data: data),
            _ when client.Spools => HealthCheckResult.Degraded($"The destination failed for a whole retry budget (last error {lastError}); events wait in the spool.", data: data),
            _ => new HealthCheckResult(failureStatus, $"Gave up delivering since {since:O} (last error {lastError}); those events are counted as failed.", data: data),
        };
    }
}
