using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Pipelines;

/// <summary>What one app's feedback loop does: which pairs to extract, when to retrain, how to split,
/// which trainer, how to evaluate, how jobs are retried, what the gate requires before promotion, and whether review comes first.</summary>
public sealed record AppPipeline(
    PairRules Rules,
    RetrainSettings Retrain,
    SplitSettings Split,
    TrainerSettings Trainer,
    EvalSettings Eval,
    GateSettings Gate)
{
    /// <summary>How the run's jobs are retried and watched.</summary>
    public JobSettings Jobs { get; init; } = JobSettings.Builtin;

    /// <summary>How a promoted candidate is tried on live traffic before it serves everyone.</summary>
    public RolloutSettings Rollout { get; init; } = RolloutSettings.Builtin;
    /// <summary>Whether a due run waits for people to review the new pairs first (off unless a file turns it on).</summary>
    public ReviewPolicy Review { get; init; } = ReviewPolicy.Builtin;

    /// <summary>The settings of an app that no file mentions; every documented default.</summary>
    public static AppPipeline Builtin { get; } = new(
        PairRules.Builtin, RetrainSettings.Builtin, SplitSettings.Builtin, TrainerSettings.Builtin, EvalSettings.Builtin, GateSettings.Builtin);

    /// <summary>The extraction rules this pipeline sets: which signals pair, their weights, and whether labels are written.</summary>
    public AppRules ToAppRules()
    {
        var signals = Rules.Signals;
        var enabled = new List<string>(signals.Count);
        var weights = new Dictionary<string, double>(signals.Count, StringComparer.Ordinal);
        foreach (var (signal, rule) in signals)
        {
            if (rule.Enabled) enabled.Add(signal);
            weights[signal] = rule.Weight;
        }
        return new AppRules(enabled, weights, Rules.LabelsEnabled);
    }
}
