using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Core.Tuning;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>Where a tuning run is.</summary>
public enum RunStatus
{
    /// <summary>Started, not finished: the app's one run in flight.</summary>
    Running,

    /// <summary>Trained and evaluated; the candidate was promoted or rejected.</summary>
    Completed,

    /// <summary>Stopped by an error; the reason says which.</summary>
    Failed,
}

/// <summary>One tuning run as the registry holds it.</summary>
/// <param name="RunId">The run id (deterministic per trigger, so a redelivered trigger names the same run).</param>
/// <param name="AppId">The app whose model the run tunes.</param>
/// <param name="Status">Running, completed or failed.</param>
/// <param name="Snapshot">The frozen data it trains and evaluates on (its total is the "since the last run" baseline).</param>
/// <param name="StartedAt">When it started (registry clock).</param>
/// <param name="CompletedAt">When it ended (registry clock); null while running.</param>
/// <param name="Reason">Why it ended (the gate's reason or the error); null while running.</param>
/// <param name="Trigger">What started it.</param>
/// <param name="TriggerNote">Who started it and why, for a run started by a person (the run it retries, for a retry); null otherwise.</param>
/// <param name="CandidateVersion">The version its candidate registers under.</param>
public sealed record RunRecord(
    string RunId,
    string AppId,
    RunStatus Status,
    DatasetSnapshot Snapshot,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt,
    string? Reason,
    RunTrigger Trigger,
    string? TriggerNote,
    string CandidateVersion);

/// <summary>Where a model version is in its life.</summary>
public enum ModelStatus
{
    /// <summary>Trained, not yet decided.</summary>
    Candidate,

    /// <summary>The app's current model; at most one per app.</summary>
    Promoted,

    /// <summary>The gate (or a person) turned it down.</summary>
    Rejected,

    /// <summary>Was promoted, then replaced by a newer promotion.</summary>
    Retired,
}

/// <summary>One model version.</summary>
/// <param name="Version">The version id, unique across apps.</param>
/// <param name="AppId">The app it serves.</param>
/// <param name="ParentVersion">The model that was current when its run started; null for an app's first model.</param>
/// <param name="RunId">The run that trained it.</param>
/// <param name="SnapshotJson">The data it was trained on, as JSON (stored as given).</param>
/// <param name="ArtifactPath">Where the trained model lies.</param>
/// <param name="TrainMetricsJson">The trainer's metrics, as a JSON object written by <see cref="TrainingReport.ToJson"/>; read it through <see cref="TrainMetrics"/>.</param>
/// <param name="Status">Where it is in its life; a registration is always <see cref="ModelStatus.Candidate"/>.</param>
/// <param name="CreatedAt">When training produced it.</param>
public sealed record ModelVersionRecord(
    string Version,
    string AppId,
    string? ParentVersion,
    string RunId,
    string SnapshotJson,
    string ArtifactPath,
    string TrainMetricsJson,
    ModelStatus Status,
    DateTimeOffset CreatedAt)
{
    /// <summary>The trainer's metrics, read through the one parser of training metrics.</summary>
    /// <exception cref="InvalidDataException">The stored text is not a JSON object.</exception>
    public TrainingReport TrainMetrics => TrainingReport.Parse(TrainMetricsJson);
}

/// <summary>The eval gate's decision on a candidate, as recorded.</summary>
/// <param name="Version">The candidate version decided on.</param>
/// <param name="Promoted">Whether the gate let the candidate through.</param>
/// <param name="CandidateAccuracy">The candidate's metric on the eval pairs.</param>
/// <param name="IncumbentAccuracy">The incumbent's metric on the same pairs; null when the app had no model.</param>
/// <param name="Difference">Candidate minus incumbent.</param>
/// <param name="Lower95">Lower end of the 95 % interval of the difference; null when there is none.</param>
/// <param name="Reason">The gate's reason in words.</param>
/// <param name="DecidedAt">When the gate decided.</param>
/// <param name="GatedAgainst">The app's current model when the gate decided (null: it had none); a verdict holds only while that model serves.</param>
public sealed record GateDecisionRecord(
    string Version,
    bool Promoted,
    double CandidateAccuracy,
    double? IncumbentAccuracy,
    double Difference,
    double? Lower95,
    string Reason,
    DateTimeOffset DecidedAt,
    string? GatedAgainst = null);

/// <summary>A model version with its gate decision (null until decided) and when its status last changed.</summary>
public sealed record ModelHistoryEntry(ModelVersionRecord Model, GateDecisionRecord? Decision, DateTimeOffset StatusChangedAt)
{
    /// <summary>A candidate that passed the gate and waits for a person's approval (<c>gate.require_signoff</c>).</summary>
    public bool AwaitingSignoff => Model.Status == ModelStatus.Candidate && Decision is { Promoted: true };

    /// <summary>The status as people read it: <c>awaiting_signoff</c> for a candidate that passed and waits.</summary>
    public string StatusText => AwaitingSignoff ? "awaiting_signoff" : RegistryText.Status(Model.Status);
}

/// <summary>Something a person did to a model version.</summary>
/// <param name="Version">The version acted on.</param>
/// <param name="Action">
/// <c>approve</c>, <c>promote</c> (by hand), <c>rollback</c> (this version was put back) or <c>rolled_back</c> (a
/// rollback replaced this version; <paramref name="OtherVersion"/> names the one put back).
/// </param>
/// <param name="Actor">Who did it (the CLI's <c>--by</c>, default the OS user).</param>
/// <param name="ActedAt">When.</param>
/// <param name="Note">Why, if they said (always, when forced).</param>
/// <param name="Forced">True when only <c>--force</c> allowed it.</param>
/// <param name="Overrode">What the force overrode (the refusal it would otherwise have been); null when not forced.</param>
/// <param name="OtherVersion">The other version: the one this action replaced (approve, promote, rollback), or the one a rollback put back (rolled_back).</param>
public sealed record ModelActionRecord(
    string Version, string Action, string Actor, DateTimeOffset ActedAt, string? Note, bool Forced = false, string? Overrode = null,
    string? OtherVersion = null);

/// <summary>A person's action that changes what an app serves, waiting to be announced on the bus.</summary>
/// <param name="ActionId">The action's id (marked announced once published).</param>
/// <param name="AppId">The app.</param>
/// <param name="Version">The version that serves because of it.</param>
/// <param name="Action"><c>approve</c>, <c>promote</c> or <c>rollback</c>.</param>
/// <param name="OtherVersion">The version it replaced, if any.</param>
/// <param name="ArtifactPath">Where <paramref name="Version"/> lies.</param>
/// <param name="Actor">Who acted.</param>
/// <param name="Note">Why, if they said.</param>
public sealed record PendingAnnouncement(
    string ActionId, string AppId, string Version, string Action, string? OtherVersion, string ArtifactPath, string Actor, string? Note);
