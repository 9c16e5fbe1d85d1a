namespace FeedbackLoop.Core.Runs;

/// <summary>Who asks for a version to become the app's current model.</summary>
public enum PromotionRequest
{
    /// <summary>A person signs off a candidate that passed the gate (<c>models approve</c>).</summary>
    Approve,

    /// <summary>A person makes a version current by hand (<c>models promote</c>): a candidate or a retired version.</summary>
    PromoteByHand,
}

/// <summary>Where a version is in its life, as the promotion rules see it.</summary>
public enum VersionState
{
    /// <summary>Trained; not current, not rejected.</summary>
    Candidate,

    /// <summary>The app's current model.</summary>
    Current,

    /// <summary>The gate turned it down.</summary>
    Rejected,

    /// <summary>Served once, then replaced.</summary>
    Retired,
}

/// <summary>What the registry holds about a version someone wants to make current.</summary>
/// <param name="Version">The version asked for.</param>
/// <param name="State">Where it is in its life.</param>
/// <param name="GatePassed">The gate's verdict: true passed, false rejected, null not decided (yet).</param>
/// <param name="GateReason">The gate's reason; null when not decided.</param>
/// <param name="GatedAgainst">The app's current model when the gate decided (null: the app had none).</param>
/// <param name="CurrentNow">The app's current model now (null: it has none).</param>
public sealed record PromotionFacts(
    string Version, VersionState State, bool? GatePassed, string? GateReason, string? GatedAgainst, string? CurrentNow)
{
    /// <summary>
    /// The gate compared the candidate with a model that no longer serves: its verdict says nothing about the current
    /// one (which may have been trained on more data), so promoting on it could go backwards.
    /// </summary>
    public bool GateIsStale => GatePassed is not null && !string.Equals(GatedAgainst, CurrentNow, StringComparison.Ordinal);
}

/// <summary>The answer: allowed, allowed only because forced (and what the force overrode), or refused with the reason.</summary>
/// <param name="Allowed">Whether the version may become current.</param>
/// <param name="Refusal">Why not (or, when <see cref="Overridden"/>, what a force overrode); null when nothing stood in the way.</param>
/// <param name="Overridden">True when only <c>--force</c> allowed it; <see cref="Refusal"/> then says what it overrode (recorded).</param>
public sealed record PromotionVerdict(bool Allowed, string? Refusal, bool Overridden)
{
    /// <summary>Nothing stands in the way.</summary>
    public static PromotionVerdict Allow { get; } = new(true, null, false);

    /// <summary>Refused, whatever the force.</summary>
    public static PromotionVerdict Refuse(string reason) => new(false, reason, false);
}

/// <summary>
/// The rules that keep a promotion by a person from going backwards by accident, as one pure function:
/// a rejected candidate, or one the gate compared with a model that no longer serves, becomes current only when the
/// person forces it and says why (the caller records both). An approval is for candidates that passed the gate; a
/// promotion by hand also takes an undecided candidate (no verdict to override) and a retired version (going back to a
/// model that served is what a rollback does too). The current model is never "promoted" again.
/// </summary>
public static class PromotionRules
{
    /// <summary>Whether <paramref name="facts"/>' version may become current on <paramref name="request"/>, with or without <paramref name="force"/>.</summary>
    public static PromotionVerdict Check(PromotionRequest request, PromotionFacts facts, bool force)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var version = facts.Version;
        PromotionVerdict Forcible(string reason) => force ? new(true, reason, true) : PromotionVerdict.Refuse($"{reason}; pass --force --reason <why> to override");

        if (request == PromotionRequest.Approve)
        {
            if (facts.State != VersionState.Candidate)
            {
                return PromotionVerdict.Refuse($"model version '{version}' is {Text(facts.State)}, not a candidate waiting for sign-off");
            }

            switch (facts.GatePassed)
            {
                case null:
                    return PromotionVerdict.Refuse($"model version '{version}' has no gate decision yet; only a candidate that passed the gate can be approved");
                case false:
                    return PromotionVerdict.Refuse(
                        $"model version '{version}' did not pass the gate ({facts.GateReason}); 'models promote --force --reason <why>' overrides the gate");
            }
        }
        else
        {
            switch (facts.State)
            {
                case VersionState.Current:
                    return PromotionVerdict.Refuse($"model version '{version}' already is the app's current model");
                case VersionState.Retired:
                    return PromotionVerdict.Allow;
                case VersionState.Rejected:
                    return Forcible($"model version '{version}' was rejected by the gate ({facts.GateReason})");
            }

            if (facts.GatePassed is null)
            {
                return PromotionVerdict.Allow;
            }
        }

        return facts.GateIsStale ? Forcible(StaleText(facts)) : PromotionVerdict.Allow;
    }

    /// <summary>Why a gate verdict no longer holds, naming both models and what to do instead.</summary>
    public static string StaleText(PromotionFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        return $"model version '{facts.Version}' was gated against {Name(facts.GatedAgainst)}, but the app's current model is now {Name(facts.CurrentNow)}: " +
            "its verdict says nothing about the current model; start a new run on today's data ('feedbackloop runs start --app <app>')";
    }

    private static string Name(string? version) => version is null ? "no model" : $"'{version}'";

    private static string Text(VersionState state) => state switch
    {
        VersionState.Candidate => "candidate",
        VersionState.Current => "promoted",
        VersionState.Rejected => "rejected",
        _ => "retired",
    };
}
