using System.Globalization;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Sdk.Models;
using FeedbackLoop.Training.Rewards;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>What the demo's app serves one session: the resolver's answer, the loaded reward model, and whether the demo broke it on purpose.</summary>
/// <param name="Version">The model version (<c>generation.shown</c>'s <c>model_version</c>).</param>
/// <param name="Variant"><c>stable</c> or <c>canary</c>, as the resolver assigned it.</param>
/// <param name="Model">The reward model that ranks the candidates; null before the first promotion (random order).</param>
/// <param name="Faulty">True when this is the canary the demo breaks on purpose (<c>--faulty-canary</c>): it shows the answer its model ranks worst.</param>
internal sealed record ServedAnswer(string Version, string Variant, RewardModel? Model, bool Faulty)
{
    public bool Canary => Variant == RolloutArms.CanaryVariant;
}

/// <summary>
/// The demo's deliberate fault (<c>--faulty-canary N</c>): the N-th canary is served with its ranking reversed, as a bad
/// deployment would serve it (a sign flipped at export), so the run shows an automatic rollback on evidence. Not a
/// learning result: the report names it. <paramref name="Version"/> is null when the run ended before that canary.
/// </summary>
internal sealed record InjectedFaultRow(int Canary, string? Version, string What);

/// <summary>
/// The app side of serving in the demo: turns the resolver's answer for a session into a loaded model, counts each
/// rollout's sessions, applies the deliberate fault, and reads the rollouts' outcomes from the store for the report.
/// </summary>
internal sealed class DemoServing(int faultyCanary)
{
    /// <summary>Before the first promotion the app shows the candidates in random order.</summary>
    public static readonly ModelChoice Random = new("random", "random", null, null);

    public const string FaultText = "the demo served this canary's worst-ranked answer on purpose (--faulty-canary), to show an automatic rollback";

    private readonly Dictionary<string, RewardModel> _models = new(StringComparer.Ordinal);
    private readonly List<string> _rollouts = [];
    private readonly Dictionary<string, long> _sessions = new(StringComparer.Ordinal);
    private string? _faultyVersion;
    private string? _faultyRollout;

    /// <summary>The fault this run injects (null when <c>--faulty-canary 0</c>).</summary>
    public InjectedFaultRow? Fault => faultyCanary > 0 ? new InjectedFaultRow(faultyCanary, _faultyVersion, FaultText) : null;

    /// <summary>The session's model as embedded mode answers it: the collector's assignment, computed over the store.</summary>
    public static ModelChoice? Choice(ModelRegistry registry, string appId, string sessionId) =>
        ModelResolver.Resolve(registry.Serving(appId), sessionId) is { } a ? new ModelChoice(a.Version, a.Artifact, a.VariantText, a.RolloutId) : null;

    /// <summary>What the app serves for <paramref name="choice"/>, the resolver's answer for one session.</summary>
    public async Task<ServedAnswer> ServeAsync(ModelChoice choice, CancellationToken ct)
    {
        RewardModel? model = null;
        if (choice.Version != Random.Version && !_models.TryGetValue(choice.Version, out model))
        {
            model = await RewardModel.LoadAsync(choice.Artifact, ct).ConfigureAwait(false);
            _models[choice.Version] = model;
        }

        var variant = choice.Variant ?? RolloutArms.StableVariant;
        var faulty = false;
        if (choice.RolloutId is { } rollout)
        {
            if (!_rollouts.Contains(rollout)) _rollouts.Add(rollout);
            _sessions[rollout] = _sessions.GetValueOrDefault(rollout) + 1;
            if (variant == RolloutArms.CanaryVariant && _rollouts.IndexOf(rollout) + 1 == faultyCanary)
            {
                faulty = true;
                _faultyVersion = choice.Version;
                _faultyRollout = rollout;
            }
        }

        return new ServedAnswer(choice.Version, variant, model, faulty);
    }

    /// <summary>The rollouts of the run, oldest first, with the numbers of the monitor's latest look and its decision.</summary>
    public IReadOnlyList<RolloutRow> Rows(ModelRegistry registry, string appId) =>
        [.. registry.ListRollouts(appId).Reverse().Select(r =>
        {
            var decisions = registry.RolloutDecisions(r.RolloutId);
            var counted = decisions.LastOrDefault(d => d.Stable is not null && d.Canary is not null);
            var decision = r.State switch
            {
                RolloutState.Promoted => "promoted",
                RolloutState.RolledBack => "rolled_back",
                _ => r.StateText,
            };
            var reason = r.Reason ?? counted?.Reason ?? "";
            if (r.RolloutId == _faultyRollout) reason = string.Create(CultureInfo.InvariantCulture, $"injected fault ({FaultText}): {reason}");
            return new RolloutRow(r.Version, r.CanaryPercent, _sessions.GetValueOrDefault(r.RolloutId),
                Rate(counted?.Stable), Rate(counted?.Canary), decision, reason);
        })];

    private static double Rate(ArmCounts? counts) => counts is { Shown: > 0 } c ? (double)c.Engaged / c.Shown : 0;
}
