using FeedbackLoop.Core.Tuning;

namespace FeedbackLoop.Core.Runs;

/// <summary>What started a tuning run; every run records one.</summary>
public enum RunTrigger
{
    /// <summary>The app's committed pairs grew by the pipeline's <c>min_new_pairs</c> since its last run.</summary>
    Pairs,

    /// <summary>A person started it (<c>feedbackloop runs start --app</c>).</summary>
    Manual,

    /// <summary>A person retried a failed run on the same snapshot (<c>feedbackloop runs retry</c>).</summary>
    Retry,

    /// <summary>The stable model's engagement dropped against its own baseline (the sequential drop test, Core/Rollouts).</summary>
    EngagementDrop,

    /// <summary>The pipeline's cron schedule fell due.</summary>
    Schedule,
}

/// <summary>How a run and its candidate are named, by what triggered the run.</summary>
public static class RunNames
{
    /// <summary>
    /// The run id. A pairs-triggered run keeps the id derived from the snapshot size alone, so a redelivered trigger names
    /// the same run. A run started by a person may share its snapshot with earlier runs (a retry always does), so it
    /// carries the trigger and <paramref name="ordinal"/>, the number of the app's runs on the same snapshot size before it.
    /// </summary>
    public static string RunId(string appId, long snapshotPairs, RunTrigger trigger, int ordinal) => trigger == RunTrigger.Pairs
        ? RetrainPolicy.RunId(appId, snapshotPairs)
        : FormattableString.Invariant($"{RetrainPolicy.RunId(appId, snapshotPairs)}-{Text(trigger)}{ordinal + 1}");

    /// <summary>The version a run's candidate registers under: unique per run, as its artifact folder must be.</summary>
    public static string CandidateVersion(string appId, long snapshotPairs, RunTrigger trigger, int ordinal) => trigger == RunTrigger.Pairs
        ? RetrainPolicy.CandidateVersion(appId, snapshotPairs)
        : FormattableString.Invariant($"{RetrainPolicy.CandidateVersion(appId, snapshotPairs)}-{Text(trigger)}{ordinal + 1}");

    /// <summary>The trigger as stored and printed.</summary>
    public static string Text(RunTrigger trigger) => trigger switch
    {
        RunTrigger.Pairs => "pairs",
        RunTrigger.Manual => "manual",
        RunTrigger.Retry => "retry",
        RunTrigger.EngagementDrop => "engagement_drop",
        RunTrigger.Schedule => "schedule",
        _ => throw new ArgumentOutOfRangeException(nameof(trigger), trigger, "not a run trigger"),
    };

    /// <summary>A stored trigger; text of a newer build is refused by name.</summary>
    public static RunTrigger ParseTrigger(string text) => text switch
    {
        "pairs" => RunTrigger.Pairs,
        "manual" => RunTrigger.Manual,
        "retry" => RunTrigger.Retry,
        "engagement_drop" => RunTrigger.EngagementDrop,
        "schedule" => RunTrigger.Schedule,
        _ => throw new InvalidDataException($"run trigger '{text}' is unknown to this build"),
    };
}
