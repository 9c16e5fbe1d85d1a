using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Pipelines;

/// <summary>What one app's feedback loop does: which pairs to extract, when to retrain, how to split,
/// which trainer, how to evaluate, how jobs are retried, and what the gate requires before promotion.</summary>
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

    /// <summary>The settings of an app that no file mentions; every documented default.</summary>
    public static AppPipeline Builtin { get; } = new(
        PairRules.Builtin, RetrainSettings.Builtin, SplitSettings.Builtin, TrainerSettings.Builtin, EvalSettings.Builtin, GateSettings.Builtin);

    /// <summary>
    /// The extraction knobs this pipeline sets (enabled signals, weights, labels) over <paramref name="baseline"/>,
    /// whose other knobs (session timeout, bounds) belong to the host, not to a pipeline.
    /// </summary>
    public ExtractionSettings ToExtractionSettings(ExtractionSettings? baseline = null)
    {
        var signals = Rules.Signals;
        return (baseline ?? new ExtractionSettings()) with
        {
            EnabledSignals = signals.Where(s => s.Rule.Enabled).Select(s => s.Signal).ToHashSet(StringComparer.Ordinal),
            Weights = signals.ToDictionary(s => s.Signal, s => s.Rule.Weight, StringComparer.Ordinal),
            LabelsEnabled = Rules.LabelsEnabled,
        };
    }
}
