using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Training.Rewards;

/// <summary>Measures a reward model on eval pairs, pair by pair, in the shape the eval gate compares.</summary>
public static class PairwiseEvaluator
{
    /// <summary>
    /// A pair is correct when the model scores the chosen response strictly above the rejected one; a tie is wrong,
    /// so a model that cannot tell the two apart earns no credit for it. A pair id seen twice is the same pair delivered
    /// twice (pair ids are deterministic, see StableId) and is judged once, at its first position.
    /// </summary>
    public static PairwiseOutcomes Evaluate(RewardModel model, IReadOnlyList<PreferencePair> evalPairs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(evalPairs);
        return new PairwiseOutcomes(evalPairs.DistinctBy(pair => pair.PairId, StringComparer.Ordinal).Select(pair => new PairOutcome(
            pair.PairId,
            model.Score(pair.Prompt, pair.Chosen.Content) > model.Score(pair.Prompt, pair.Rejected.Content))));
    }
}
