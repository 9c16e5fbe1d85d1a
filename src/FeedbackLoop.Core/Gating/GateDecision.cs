namespace FeedbackLoop.Core.Gating;

/// <summary>The eval gate's verdict on a candidate model, with the numbers it was based on.</summary>
/// <param name="Promote">True when the candidate should replace the incumbent.</param>
/// <param name="Candidate">The candidate's pairwise accuracy on the eval set.</param>
/// <param name="Incumbent">The incumbent's pairwise accuracy on the same pairs; null when there is none.</param>
/// <param name="Difference">Mean paired difference (candidate − incumbent) over the eval pairs; 0 when there is no incumbent.</param>
/// <param name="Lower95">Lower end of the 95% interval of <paramref name="Difference"/>; null when there is no incumbent or too few pairs for an interval.</param>
/// <param name="Reason">In words, which condition held or failed, with the numbers.</param>
public sealed record GateDecision(
    bool Promote,
    double Candidate,
    double? Incumbent,
    double Difference,
    double? Lower95,
    string Reason);
