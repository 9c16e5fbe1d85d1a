namespace FeedbackLoop.Core.Gating;

/// <summary>Whether a model ranked one eval pair correctly (scored the chosen response above the rejected one).</summary>
/// <param name="PairId">The pair's <c>pair_id</c>.</param>
/// <param name="Correct">True when the model preferred the chosen response; a tie is not correct.</param>
public readonly record struct PairOutcome(string PairId, bool Correct);

/// <summary>
/// A model's per-pair correctness on an eval set, in eval-set order. Kept per pair (not just as a count) so
/// two models can be compared pair by pair, which is far more sensitive than comparing two accuracies.
/// </summary>
public sealed class PairwiseOutcomes
{
    private readonly PairOutcome[] _outcomes;
    private readonly Dictionary<string, bool> _byPairId;

    /// <summary>Builds the outcomes; each pair id may appear once.</summary>
    /// <exception cref="ArgumentException">A pair id appears more than once.</exception>
    public PairwiseOutcomes(IEnumerable<PairOutcome> outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        _outcomes = [.. outcomes];
        _byPairId = new Dictionary<string, bool>(_outcomes.Length, StringComparer.Ordinal);
        var correct = 0;
        foreach (var outcome in _outcomes)
        {
            ArgumentNullException.ThrowIfNull(outcome.PairId, nameof(outcomes));
            if (!_byPairId.TryAdd(outcome.PairId, outcome.Correct))
            {
                throw new ArgumentException($"Pair '{outcome.PairId}' appears more than once in the outcomes.", nameof(outcomes));
            }
            if (outcome.Correct)
            {
                correct++;
            }
        }
        Accuracy = _outcomes.Length == 0 ? 0 : (double)correct / _outcomes.Length;
        StandardError = _outcomes.Length == 0 ? 0 : Math.Sqrt(Accuracy * (1 - Accuracy) / _outcomes.Length);
    }

    /// <summary>The outcomes in eval-set order.</summary>
    public IReadOnlyList<PairOutcome> Outcomes => _outcomes;

    /// <summary>Number of eval pairs.</summary>
    public int Count => _outcomes.Length;

    /// <summary>Fraction of pairs ranked correctly; 0 for an empty eval set.</summary>
    public double Accuracy { get; }

    /// <summary>Binomial standard error of <see cref="Accuracy"/>, √(p(1−p)/n); 0 for an empty eval set.</summary>
    public double StandardError { get; }

    /// <summary>Whether the model ranked the given pair correctly.</summary>
    /// <exception cref="KeyNotFoundException">The pair is not in this eval set.</exception>
    public bool IsCorrect(string pairId) => _byPairId[pairId];

    /// <summary>True when both sets cover exactly the same pair ids (order aside).</summary>
    public bool CoversSamePairsAs(PairwiseOutcomes other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Count == other.Count && _outcomes.All(o => other._byPairId.ContainsKey(o.PairId));
    }
}
