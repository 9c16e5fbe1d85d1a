using System.Globalization;

namespace FeedbackLoop.Core.Runs;

/// <summary>Everything the trigger decision reads about one app at one moment; gathered by the orchestrator, decided here.</summary>
/// <param name="Now">The orchestrator's clock.</param>
/// <param name="ActiveRun">The app's run in flight, if any: while it runs no other starts.</param>
/// <param name="LastRunStartedAt">When the app's latest run started (null: never); the cooldown counts from it.</param>
/// <param name="Cooldown">How long after a run started no automatic trigger starts another.</param>
/// <param name="NewPairs">Committed pairs since the app's last run.</param>
/// <param name="MinNewPairs">The pipeline's <c>retrain.min_new_pairs</c>.</param>
/// <param name="EngagementDrop">The drop test's reason when it found the stable model's engagement dropped against its baseline; null when it did not.</param>
/// <param name="ScheduleDueAt">The latest occurrence of the pipeline's cron schedule since the last run started, up to now; null when none fell due (or no schedule).</param>
public sealed record TriggerFacts(
    DateTimeOffset Now,
    string? ActiveRun,
    DateTimeOffset? LastRunStartedAt,
    TimeSpan Cooldown,
    long NewPairs,
    long MinNewPairs,
    string? EngagementDrop,
    DateTimeOffset? ScheduleDueAt);

/// <summary>The decision: the trigger a new run records, or null with the reason none starts.</summary>
public sealed record TriggerDecision(RunTrigger? Trigger, string Reason)
{
    /// <summary>True when a run starts.</summary>
    public bool Starts => Trigger is not null;
}

/// <summary>
/// When the orchestrator starts a run on its own (issue 14, item 4). At most one run per app is in flight; after a run
/// starts, no automatic trigger fires for the cooldown, so a drop that persists while its fix is being trained, or a
/// schedule that catches up, cannot start runs back to back. Of the triggers that fire, the run records the most urgent:
/// an engagement drop (users are worse off now), then the schedule, then new pairs. A person's <c>runs start</c> is not
/// decided here: it is refused only while a run is in flight (the registry's rule), never by the cooldown.
/// </summary>
public static class TriggerPolicy
{
    /// <summary>The decision for <paramref name="facts"/>.</summary>
    public static TriggerDecision Decide(TriggerFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        if (facts.Cooldown < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(facts), facts.Cooldown, "the cooldown must not be negative");
        if (facts.MinNewPairs < 1) throw new ArgumentOutOfRangeException(nameof(facts), facts.MinNewPairs, "min_new_pairs must be at least 1");

        var fired = Fired(facts);
        if (fired.Count == 0) return new TriggerDecision(null, "nothing triggered a run");
        var what = string.Join("; ", fired.Select(f => f.Reason));
        if (facts.ActiveRun is { } active) return new TriggerDecision(null, $"run {active} is in flight (triggered: {what})");
        if (facts.LastRunStartedAt is { } last && facts.Now - last < facts.Cooldown)
        {
            var left = facts.Cooldown - (facts.Now - last);
            return new TriggerDecision(null, Text($"cooling down for {left.TotalMinutes:0.#} more min after the run started at {last:u} (triggered: {what})"));
        }

        return new TriggerDecision(fired[0].Trigger, what);
    }

    /// <summary>The triggers that fire, most urgent first, each with its reason.</summary>
    private static List<(RunTrigger Trigger, string Reason)> Fired(TriggerFacts facts)
    {
        var fired = new List<(RunTrigger, string)>();
        if (facts.EngagementDrop is { } drop) fired.Add((RunTrigger.EngagementDrop, drop));
        if (facts.ScheduleDueAt is { } due && due <= facts.Now && (facts.LastRunStartedAt is not { } last || due > last))
            fired.Add((RunTrigger.Schedule, Text($"schedule fell due at {due:u}")));
        if (facts.NewPairs >= facts.MinNewPairs) fired.Add((RunTrigger.Pairs, Text($"{facts.NewPairs} new pairs ≥ min_new_pairs {facts.MinNewPairs}")));
        return fired;
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
