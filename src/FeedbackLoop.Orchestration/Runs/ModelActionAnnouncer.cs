using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Runs;

/// <summary>
/// Announces what people did to models (<c>models approve|promote|rollback</c>) on the bus the loop uses: in memory in
/// embedded mode, RabbitMQ in distributed mode. The CLI only writes the store; the store is the outbox, and the
/// orchestrator publishes each action after every sweep and then marks it announced. So the CLI needs no broker
/// credentials, an action taken while the broker is down is announced once it is back, and a crash between publishing
/// and marking repeats the announcement (at least once; apps switch by version, so a repeat changes nothing).
/// </summary>
internal sealed partial class ModelActionAnnouncer(ModelRegistry registry, OrchestrationTelemetry telemetry, ILogger<ModelActionAnnouncer> logger)
{
    /// <summary>Actions announced per sweep at most; the rest wait for the next sweep (a second later by default).</summary>
    public const int BatchLimit = 100;

    /// <summary>Publishes every unannounced action, oldest first, and marks each once published.</summary>
    public async Task AnnounceAsync(IPublishEndpoint bus, CancellationToken cancellationToken)
    {
        foreach (var pending in registry.UnannouncedActions(BatchLimit))
        {
            object message = pending.Action == "rollback"
                ? new ModelRolledBack(pending.AppId, pending.Version, pending.OtherVersion, pending.ArtifactPath, pending.Actor, pending.Note)
                : new ModelPromoted(pending.AppId, pending.Version, pending.OtherVersion, pending.ArtifactPath);
            await bus.Publish(message, cancellationToken).ConfigureAwait(false);
            registry.MarkAnnounced(pending.ActionId);
            telemetry.ActionAnnounced(pending.AppId, pending.Action);
            LogAnnounced(logger, pending.Action, pending.Version, pending.Actor);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Announced {Action} of {Version} by {Actor}")]
    private static partial void LogAnnounced(ILogger logger, string action, string version, string actor);
}
