using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Orchestration.Pipelines;

/// <summary>Whether a pair rule (EVENTS.md rules 1–4) produces pairs, and the weight its pairs carry.</summary>
public sealed record SignalRule(bool Enabled, double Weight)
{
    /// <summary>Weight of a signal's pairs unless a pipeline says otherwise.</summary>
    public const double DefaultWeight = 1.0;

    /// <summary>On, weight 1.0.</summary>
    public static SignalRule Builtin { get; } = new(true, DefaultWeight);
}

/// <summary>The extraction rules: one <see cref="SignalRule"/> per pair signal, and whether unpaired labels (rule 5) are written.</summary>
public sealed record PairRules(SignalRule Comparison, SignalRule Edit, SignalRule Regenerate, SignalRule Thumbs, bool LabelsEnabled)
{
    /// <summary>Every rule on, every weight 1.0.</summary>
    public static PairRules Builtin { get; } =
        new(SignalRule.Builtin, SignalRule.Builtin, SignalRule.Builtin, SignalRule.Builtin, LabelsEnabled: true);

    /// <summary>The rules keyed by their <see cref="PairSignals"/> name, in rule order.</summary>
    public IReadOnlyList<(string Signal, SignalRule Rule)> Signals =>
    [
        (PairSignals.Comparison, Comparison),
        (PairSignals.Edit, Edit),
        (PairSignals.Regenerate, Regenerate),
        (PairSignals.Thumbs, Thumbs),
    ];
}

/// <summary>When a new tuning run starts: once this many pairs were committed since the app's last run.</summary>
public sealed record RetrainSettings(int MinNewPairs)
{
    /// <summary>Enough pairs to move a reward model without retraining on every dataset commit.</summary>
    public const int DefaultMinNewPairs = 200;

    /// <summary>200 new pairs.</summary>
    public static RetrainSettings Builtin { get; } = new(DefaultMinNewPairs);
}

/// <summary>The share of pairs held out for evaluation (the split itself is by pair id hash, so it is stable across runs).</summary>
public sealed record SplitSettings(double EvalFraction)
{
    /// <summary>One pair in five held out.</summary>
    public const double DefaultEvalFraction = 0.2;

    /// <summary>20 % held out.</summary>
    public static SplitSettings Builtin { get; } = new(DefaultEvalFraction);
}

/// <summary>Which trainer tunes the app's model, and its seed (runs are reproducible from snapshot + seed).</summary>
public sealed record TrainerSettings(string Kind, int Seed)
{
    /// <summary>The ML.NET reward model trained on CPU.</summary>
    public const string MlNetReward = "mlnet-reward";

    /// <summary>Any fixed value works; what matters is that it is recorded and stable.</summary>
    public const int DefaultSeed = 42;

    /// <summary>The trainer kinds this build can run.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [MlNetReward];

    /// <summary>The ML.NET reward model, seed 42.</summary>
    public static TrainerSettings Builtin { get; } = new(MlNetReward, DefaultSeed);
}

/// <summary>How a candidate is scored against the incumbent on the held-out pairs.</summary>
public sealed record EvalSettings(string Metric)
{
    /// <summary>The share of held-out pairs where the model scores chosen above rejected.</summary>
    public const string PairwiseAccuracy = "pairwise_accuracy";

    /// <summary>The metrics this build can compute.</summary>
    public static IReadOnlyList<string> Metrics { get; } = [PairwiseAccuracy];

    /// <summary>Pairwise accuracy.</summary>
    public static EvalSettings Builtin { get; } = new(PairwiseAccuracy);
}

/// <summary>What a candidate must show before it replaces the incumbent.</summary>
/// <param name="Margin">How much better than the incumbent (in metric units) the candidate must be.</param>
/// <param name="RequireSignoff">Whether a person must approve a candidate that passed before it is promoted.</param>
public sealed record GateSettings(double Margin, bool RequireSignoff)
{
    /// <summary>Two points of accuracy: below that, a difference is mostly noise on a few hundred eval pairs.</summary>
    public const double DefaultMargin = 0.02;

    /// <summary>Margin 0.02, no sign-off.</summary>
    public static GateSettings Builtin { get; } = new(DefaultMargin, RequireSignoff: false);
}
