using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Pipelines;

/// <summary>Whether a pair rule (rules 1–4 of docs/contract/rules.md) produces pairs, and the weight its pairs carry.</summary>
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

/// <summary>
/// Which trainer tunes the app's model, and its seed (runs are reproducible from snapshot + seed). The
/// <see cref="CommandKind"/> trainer runs <see cref="Command"/> on a worker; the others run inside the worker.
/// </summary>
public sealed record TrainerSettings(string Kind, int Seed)
{
    /// <summary>The ML.NET reward model trained on CPU, inside the worker's process.</summary>
    public const string MlNetReward = "mlnet-reward";

    /// <summary>Any trainer program (e.g. the GPU DPO trainer in pipelines/trainers/), run from a command template.</summary>
    public const string CommandKind = "command";

    /// <summary>Any fixed value works; what matters is that it is recorded and stable.</summary>
    public const int DefaultSeed = 42;

    /// <summary>An ML.NET reward model trains in seconds to minutes; half an hour means it is stuck.</summary>
    public static readonly TimeSpan DefaultMlNetTimeout = TimeSpan.FromMinutes(30);

    /// <summary>A GPU fine-tuning run may take hours; past a day it is stuck.</summary>
    public static readonly TimeSpan DefaultCommandTimeout = TimeSpan.FromHours(24);

    /// <summary>The trainer kinds this build can run.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [MlNetReward, CommandKind];

    /// <summary>The ML.NET reward model, seed 42.</summary>
    public static TrainerSettings Builtin { get; } = new(MlNetReward, DefaultSeed);

    /// <summary>Command kind: the trainer's command template (placeholders in pipelines/README.md); null for the other kinds.</summary>
    public CommandTemplate? Command { get; init; }

    /// <summary>Command kind: the value of <c>{base_model}</c> (a model folder, or whatever the trainer accepts).</summary>
    public string BaseModel { get; init; } = "";

    /// <summary>Command kind: the value of <c>{params}</c>, a JSON object.</summary>
    public string ParamsJson { get; init; } = "{}";

    /// <summary>How long one training attempt may run before its worker stops it.</summary>
    public TimeSpan Timeout { get; init; } = DefaultMlNetTimeout;

    /// <summary>The worker pool that runs the training job (<c>serve --pool</c>); the eval job's too unless <c>eval.pool</c> names another.</summary>
    public string Pool { get; init; } = Contracts.Bus.JobPools.Default;

    /// <summary>A kind's settings before a file says anything more.</summary>
    public static TrainerSettings DefaultsFor(string kind) => kind == CommandKind
        ? Builtin with { Kind = CommandKind, Timeout = DefaultCommandTimeout }
        : Builtin with { Kind = kind };
}

/// <summary>How a candidate is scored against the incumbent on the held-out pairs, and what else it must pass.</summary>
public sealed record EvalSettings(string Metric)
{
    /// <summary>The share of held-out pairs where the model scores chosen above rejected.</summary>
    public const string PairwiseAccuracy = "pairwise_accuracy";

    /// <summary>Scoring two models rarely takes long; an hour means it is stuck.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromHours(1);

    /// <summary>The metrics this build can compute.</summary>
    public static IReadOnlyList<string> Metrics { get; } = [PairwiseAccuracy];

    /// <summary>Pairwise accuracy.</summary>
    public static EvalSettings Builtin { get; } = new(PairwiseAccuracy);

    /// <summary>
    /// With a <see cref="TrainerSettings.CommandKind"/> trainer: the command that scores one model (<c>{model}</c>) and
    /// writes <c>{output}/metrics.json</c>. Null with the in-process trainers, which score in the worker.
    /// </summary>
    public CommandTemplate? Command { get; init; }

    /// <summary>Checks run on the candidate after scoring; each must exit 0 or the candidate is rejected.</summary>
    public IReadOnlyList<CommandTemplate> ExtraCommands { get; init; } = [];

    /// <summary>How long one eval attempt (scoring and checks together) may run before its worker stops it.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>The worker pool that runs the eval job; null: the trainer's pool.</summary>
    public string? Pool { get; init; }

    /// <summary>
    /// <c>eval.recency</c>: score on the held-out pairs of a recent window only (with a minimum count), for apps whose users'
    /// tastes move (docs/ROLLOUT.md, ADR 0039); null, the default, scores every held-out pair. In-process evaluator only.
    /// </summary>
    public RecentEvalPairs? Recency { get; init; }

    /// <inheritdoc />
    public bool Equals(EvalSettings? other) =>
        other is not null && Metric == other.Metric && Equals(Command, other.Command) && Timeout == other.Timeout
        && Pool == other.Pool && Equals(Recency, other.Recency) && ExtraCommands.SequenceEqual(other.ExtraCommands);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Metric, Command, Timeout, ExtraCommands.Count);
}

/// <summary>How tuning and eval jobs are retried and watched.</summary>
/// <param name="MaxAttempts">Attempts a job gets before the run fails (a cancelled attempt is never retried).</param>
/// <param name="RetryBackoff">The wait before the second attempt; it doubles for each later one, up to <see cref="MaxRetryBackoff"/>.</param>
/// <param name="HeartbeatTimeout">An attempt whose worker sends no heartbeat for this long is given up on and retried.</param>
public sealed record JobSettings(int MaxAttempts, TimeSpan RetryBackoff, TimeSpan HeartbeatTimeout)
{
    /// <summary>Three attempts: one bad node or a transient fault should not fail a run, a broken trainer should.</summary>
    public const int DefaultMaxAttempts = 3;

    /// <summary>The cap of the doubling backoff.</summary>
    public static readonly TimeSpan MaxRetryBackoff = TimeSpan.FromHours(1);

    /// <summary>Workers beat every 10 s by default; two minutes of silence is twelve missed beats.</summary>
    public static JobSettings Builtin { get; } = new(DefaultMaxAttempts, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2));
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

/// <summary>
/// How a promoted candidate proves itself on live traffic (docs/ROLLOUT.md): it first serves <see cref="CanaryPercent"/>
/// of sessions, the sequential test compares it with the stable model, and a rollout still undecided after
/// <see cref="MaxDuration"/> ends as the test's limit says (promote, by default).
/// </summary>
/// <param name="CanaryPercent">The share of sessions the canary serves, 0–50; 0 serves a promotion to everyone at once.</param>
/// <param name="MaxDuration">The longest a rollout may run before it ends without the test's decision.</param>
public sealed record RolloutSettings(int CanaryPercent, TimeSpan MaxDuration)
{
    /// <summary>One session in ten: enough to reach the test's minimum sample soon, few enough to limit the harm of a bad canary.</summary>
    public const int DefaultCanaryPercent = 10;

    /// <summary>At most half the sessions: the canary is the minority, the stable model the reference.</summary>
    public const int MaxCanaryPercent = 50;

    /// <summary>A day covers a full daily cycle of traffic; past that an undecided canary is as good as stable for what the test can tell.</summary>
    public static readonly TimeSpan DefaultMaxDuration = TimeSpan.FromHours(24);

    /// <summary>10% of sessions, for at most 24 hours.</summary>
    public static RolloutSettings Builtin { get; } = new(DefaultCanaryPercent, DefaultMaxDuration);
}

/// <summary>
/// Whether a run the retrain threshold calls for waits until people reviewed enough of the pairs committed since the
/// app's last run (<c>review:</c> in a pipeline; docs/REVIEW.md). Excluded pairs never train either way: every run
/// trains on a reviewed snapshot.
/// </summary>
/// <param name="Required">True: the run waits for review (its state and reason are visible in <c>runs list</c>).</param>
/// <param name="MinReviewedFraction">The share of the new pairs that must carry a review decision, in (0, 1].</param>
public sealed record ReviewPolicy(bool Required, double MinReviewedFraction)
{
    /// <summary>One pair in ten: a sample a team can get through between runs that still catches systematic problems.</summary>
    public const double DefaultMinReviewedFraction = 0.1;

    /// <summary>Not required (the automated loop runs as it always did); 10 % once required.</summary>
    public static ReviewPolicy Builtin { get; } = new(Required: false, DefaultMinReviewedFraction);
}
