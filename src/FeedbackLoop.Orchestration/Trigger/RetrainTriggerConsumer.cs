using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Pipelines;
using MassTransit;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// DatasetCommitted → maybe a run: for a registered app, <see cref="RetrainStarter"/> starts its run when one is due (or
/// records that it waits for review). A commit for an app that is not registered is ignored before anything is read for
/// it: no snapshot, run, model or promotion.
/// </summary>
internal sealed class RetrainTriggerConsumer(IRegisteredApps apps, UnregisteredAppCommits unregistered, RetrainStarter starter)
    : IConsumer<DatasetCommitted>
{
    public async Task Consume(ConsumeContext<DatasetCommitted> context)
    {
        var appId = context.Message.AppId;
        // Registration first, and the id's own rule too: the id names the dataset folder the snapshot would read.
        if (!AppIds.IsValid(appId) || !apps.IsRegistered(appId))
        {
            unregistered.Ignore(appId);
            return;
        }

        await starter.ConsiderAsync(appId, TriggerTraceParent(context.Message), context, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The trace the run continues: the commit's that the message names (checked: it is input), else this consume's.</summary>
    private static string? TriggerTraceParent(DatasetCommitted message) =>
        message.TraceParent is { } carried && TraceParent.IsValid(carried) ? carried : Activity.Current?.Id;
}
