namespace FeedbackLoop.Core.Gating;

/// <summary>
/// A model's pairwise accuracy as an evaluator reports it when it does not report each pair's outcome (an external
/// eval command): the accuracy, its standard error and the number of pairs.
/// </summary>
/// <param name="Accuracy">Fraction of eval pairs ranked correctly, in [0, 1].</param>
/// <param name="StandardError">Standard error of <paramref name="Accuracy"/>, at least 0.</param>
/// <param name="Count">Number of eval pairs.</param>
public sealed record AccuracySummary(double Accuracy, double StandardError, int Count)
{
    /// <summary>The summary of per-pair outcomes.</summary>
    public static AccuracySummary Of(PairwiseOutcomes outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        return new AccuracySummary(outcomes.Accuracy, outcomes.StandardError, outcomes.Count);
    }
}
