using System.Globalization;

namespace FeedbackLoop.Core.Runs;

/// <summary>How far review of an app's new pairs has come: the pairs committed since its last run's snapshot, and how many of them have a review decision.</summary>
/// <param name="NewPairs">Pairs in dataset files the last run's snapshot did not hold (all pairs before the first run).</param>
/// <param name="ReviewedPairs">Of those, the pairs with any review decision in force (approve, exclude, swap or correct).</param>
public sealed record ReviewProgress(long NewPairs, long ReviewedPairs)
{
    /// <summary>The reviewed share of the new pairs; 1 when there are none (nothing is left to review).</summary>
    public double Fraction => NewPairs == 0 ? 1 : (double)ReviewedPairs / NewPairs;
}

/// <summary>What the review gate says about starting a run now: go, or wait with the reason people see.</summary>
/// <param name="Proceed">True when the run may start.</param>
/// <param name="Needed">How many of the new pairs must be reviewed before it may (0 when review is not required).</param>
/// <param name="Reason">Why it waits; null when it proceeds.</param>
public sealed record ReviewVerdict(bool Proceed, long Needed, string? Reason);

/// <summary>
/// The pipeline's <c>review</c> policy as a pure decision: with <c>required</c>, a run the retrain threshold called for
/// starts only once at least <c>min_reviewed_fraction</c> of the pairs committed since the last run's snapshot carry a
/// review decision. Whole pairs are counted (the needed count is rounded up), so "10 % of 41" needs 5, never 4.1.
/// </summary>
public static class ReviewGate
{
    /// <summary>Decides whether a due run starts now.</summary>
    /// <param name="required">The pipeline's <c>review.required</c>.</param>
    /// <param name="minReviewedFraction">The pipeline's <c>review.min_reviewed_fraction</c>, in (0, 1].</param>
    /// <param name="progress">The review of the new pairs so far.</param>
    public static ReviewVerdict Decide(bool required, double minReviewedFraction, ReviewProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        if (!required) return new ReviewVerdict(true, 0, null);
        if (minReviewedFraction is <= 0 or > 1 || double.IsNaN(minReviewedFraction))
            throw new ArgumentOutOfRangeException(nameof(minReviewedFraction), minReviewedFraction, "must be above 0 and at most 1");
        if (progress.NewPairs < 0 || progress.ReviewedPairs < 0 || progress.ReviewedPairs > progress.NewPairs)
            throw new ArgumentOutOfRangeException(nameof(progress), progress, "reviewed pairs must be between 0 and the new pairs");

        var needed = NeededOf(progress.NewPairs, minReviewedFraction);
        if (progress.ReviewedPairs >= needed) return new ReviewVerdict(true, needed, null);
        return new ReviewVerdict(false, needed, string.Create(CultureInfo.InvariantCulture,
            $"waiting for review: {Percent(progress.Fraction)} of {progress.NewPairs} new pairs reviewed ({progress.ReviewedPairs}), {Percent(minReviewedFraction)} needed ({needed})"));
    }

    /// <summary>The whole number of pairs that makes the fraction: rounded up, with a guard against 0.1 × 40 landing on 4.000000000000001.</summary>
    public static long NeededOf(long newPairs, double minReviewedFraction) =>
        (long)Math.Ceiling(Math.Round(newPairs * minReviewedFraction, 9, MidpointRounding.AwayFromZero));

    // Whole percents read best; a share below 1 % is not shown as 0 % while some pairs were reviewed.
    private static string Percent(double fraction) =>
        fraction > 0 && fraction < 0.01 ? "<1%" : string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(fraction * 100):0}%");
}
