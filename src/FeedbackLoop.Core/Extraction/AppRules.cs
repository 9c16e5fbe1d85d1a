using System.Collections.Frozen;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// What one app asks of the preference rules (docs/contract/rules.md): which pair signals (rules 1–4) produce pairs,
/// the weight each signal's pairs carry, and whether unpaired labels (rule 5) are written. Pipelines set it per app
/// (<c>pipelines/*.yaml</c>, <c>rules:</c>); the limits and budgets that protect the extractor stay global, in
/// <see cref="ExtractionSettings"/>. Read-only once built, so sessions on any thread read it without locks or allocation.
/// </summary>
public sealed class AppRules
{
    /// <summary>The weight of a signal that no rule set names.</summary>
    public const double DefaultWeight = 1.0;

    private readonly FrozenSet<string> _enabled;
    private readonly IReadOnlyDictionary<string, double> _weights;

    /// <summary>
    /// A rule set; <paramref name="weights"/> may leave signals out (they weigh <see cref="DefaultWeight"/>). The weights are
    /// read as given, not copied: pass a dictionary nobody changes afterwards.
    /// </summary>
    public AppRules(IEnumerable<string> enabledSignals, IReadOnlyDictionary<string, double>? weights = null, bool labelsEnabled = true)
    {
        _enabled = enabledSignals.ToFrozenSet(StringComparer.Ordinal);
        _weights = weights ?? FrozenDictionary<string, double>.Empty;
        LabelsEnabled = labelsEnabled;
    }

    /// <summary>Every rule on, every weight 1.0: the rules of docs/contract/rules.md as written.</summary>
    public static AppRules Builtin { get; } = new([PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate, PairSignals.Thumbs]);

    /// <summary>The signals (rules 1–4) that produce pairs.</summary>
    public IReadOnlySet<string> EnabledSignals => _enabled;

    /// <summary>The weight per signal this rule set states.</summary>
    public IReadOnlyDictionary<string, double> Weights => _weights;

    /// <summary>Whether rule 5 (unpaired labels) is on.</summary>
    public bool LabelsEnabled { get; }

    /// <summary>Whether <paramref name="signal"/>'s rule produces pairs.</summary>
    public bool IsEnabled(string signal) => _enabled.Contains(signal);

    /// <summary>The weight of <paramref name="signal"/>'s pairs.</summary>
    public double WeightOf(string signal) => _weights.TryGetValue(signal, out var weight) ? weight : DefaultWeight;
}
