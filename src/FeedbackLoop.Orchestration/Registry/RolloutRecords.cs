using FeedbackLoop.Core.Rollouts;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>Where a canary rollout is.</summary>
public enum RolloutState
{
    /// <summary>The canary serves its share of sessions; the rollout monitor looks and decides.</summary>
    Active,

    /// <summary>A person stopped it: every session gets the stable model, nobody decides until a person promotes or rolls back.</summary>
    Halted,

    /// <summary>Ended: the canary serves everyone.</summary>
    Promoted,

    /// <summary>Ended: the stable model was put back.</summary>
    RolledBack,

    /// <summary>Ended: another model became current by another action (a promotion by hand, a newer run).</summary>
    Superseded,
}

/// <summary>One canary rollout: a promoted candidate tried on a share of sessions against the model it replaces.</summary>
/// <param name="RolloutId">The rollout (<c>&lt;version&gt;-canary</c>).</param>
/// <param name="AppId">The app.</param>
/// <param name="Version">The canary: the promoted candidate.</param>
/// <param name="StableVersion">The model it is compared with, which the other sessions keep getting.</param>
/// <param name="CanaryPercent">The share of sessions the canary serves while active (the pipeline's <c>rollout.canary_percent</c>).</param>
/// <param name="MaxDuration">How long it may run before it ends without the test's decision (<c>rollout.max_duration</c>).</param>
/// <param name="State">Where it is.</param>
/// <param name="StartedAt">When it opened.</param>
/// <param name="EndedAt">When it ended; null while open.</param>
/// <param name="Reason">Why it ended (the decision's reason); null while open.</param>
public sealed record RolloutRecord(
    string RolloutId,
    string AppId,
    string Version,
    string StableVersion,
    int CanaryPercent,
    TimeSpan MaxDuration,
    RolloutState State,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    string? Reason)
{
    /// <summary>Active or halted: the app's one open rollout.</summary>
    public bool IsOpen => State is RolloutState.Active or RolloutState.Halted;

    /// <summary>The state as the CLI and JSON spell it.</summary>
    public string StateText => RolloutText.State(State);
}

/// <summary>One decision on a rollout, automatic or a person's, with the numbers it rested on.</summary>
/// <param name="RolloutId">The rollout.</param>
/// <param name="Decision"><c>extend</c>, <c>promote</c>, <c>rollback</c> or <c>halt</c>.</param>
/// <param name="Actor"><c>rollout-monitor</c> for the automatic decisions, else the person.</param>
/// <param name="ByPerson">True when a person decided (the reason is theirs, not the test's).</param>
/// <param name="Reason">Why, with the rates, counts and interval for the automatic ones.</param>
/// <param name="Stable">The stable arm's counts at the decision; null for a person's decision.</param>
/// <param name="Canary">The canary arm's counts at the decision; null for a person's decision.</param>
/// <param name="Interval">The always-valid interval for canary − stable; null before the minimum sample or for a person's decision.</param>
/// <param name="DecidedAt">When.</param>
public sealed record RolloutDecisionRecord(
    string RolloutId,
    string Decision,
    string Actor,
    bool ByPerson,
    string Reason,
    ArmCounts? Stable,
    ArmCounts? Canary,
    (double Lower, double Upper)? Interval,
    DateTimeOffset DecidedAt);

/// <summary>The words the store and the CLI use for rollout states.</summary>
public static class RolloutText
{
    /// <summary>The actor of the automatic decisions.</summary>
    public const string Monitor = "rollout-monitor";

    /// <summary>The state's word.</summary>
    public static string State(RolloutState state) => state switch
    {
        RolloutState.Active => "active",
        RolloutState.Halted => "halted",
        RolloutState.Promoted => "promoted",
        RolloutState.RolledBack => "rolled_back",
        _ => "superseded",
    };

    /// <summary>The state a word names.</summary>
    /// <exception cref="InvalidDataException">The word names no state.</exception>
    public static RolloutState ParseState(string text) => text switch
    {
        "active" => RolloutState.Active,
        "halted" => RolloutState.Halted,
        "promoted" => RolloutState.Promoted,
        "rolled_back" => RolloutState.RolledBack,
        "superseded" => RolloutState.Superseded,
        _ => throw new InvalidDataException($"unknown rollout state '{text}'"),
    };
}
