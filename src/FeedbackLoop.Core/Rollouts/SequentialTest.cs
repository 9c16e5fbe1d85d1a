using System.Globalization;

namespace FeedbackLoop.Core.Rollouts;

/// <summary>One arm's engagement so far: how many outputs were shown, and how many of them earned the engagement (a thumbs up).</summary>
/// <param name="Shown">Outputs shown (each a Bernoulli trial).</param>
/// <param name="Engaged">Of those, how many earned the engagement.</param>
public readonly record struct ArmCounts(long Shown, long Engaged)
{
    /// <summary>The engagement rate; 0 before anything was shown.</summary>
    public double Rate => Shown == 0 ? 0 : (double)Engaged / Shown;

    /// <summary>Refuses counts that cannot be (negative, or more engaged than shown).</summary>
    public void Validate(string name)
    {
        if (Shown < 0 || Engaged < 0 || Engaged > Shown)
        {
            throw new ArgumentOutOfRangeException(name, this, $"{name}: engaged must be between 0 and shown");
        }
    }

    /// <summary>The counts as people read them: rate (engaged of shown).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rate:0.000} ({Engaged} of {Shown})");
}

/// <summary>
/// An always-valid confidence interval for the difference of two engagement rates (treatment minus control) at one look.
/// The whole sequence of these intervals covers the true difference at every look at once with probability at least
/// 1 − α, however often and whenever one looks (asymptotically, see docs/adr/0019-sequential-test-for-rollouts.md).
/// </summary>
/// <param name="Estimate">Treatment rate minus control rate.</param>
/// <param name="Lower">Lower end.</param>
/// <param name="Upper">Upper end.</param>
/// <param name="StandardError">The estimate's standard error (plug-in, from the two arms' rates).</param>
public sealed record DifferenceInterval(double Estimate, double Lower, double Upper, double StandardError)
{
    /// <summary>The interval as people read it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Estimate:+0.000;-0.000;0.000} [{Lower:+0.000;-0.000;0.000}, {Upper:+0.000;-0.000;0.000}]");
}

/// <summary>
/// The mixture sequential probability ratio test (mSPRT) with a normal mixture, in its confidence-sequence form, for the
/// difference of two Bernoulli rates (Johari, Pekelis, Walsh, "Always Valid Inference", Operations Research 2022; the
/// boundary is the normal-mixture boundary of Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric,
/// nonasymptotic confidence sequences", Annals of Statistics 2021, used with a plug-in variance as in Waudby-Smith et
/// al., "Time-uniform central limit theory and asymptotic confidence sequences", 2021). Pure arithmetic, no state: a
/// look is a function of the counts so far.
/// </summary>
public static class SequentialTest
{
    /// <summary>
    /// The always-valid interval for treatment − control after the counts so far.
    /// With estimate d, its variance s² (per-arm p(1−p)/n summed) and the mixture's scale τ, the mixture likelihood ratio
    /// against "no difference" is Λ = sqrt(s²/(s²+τ²)) · exp(τ²d² / (2s²(s²+τ²))); Λ ≥ 1/α exactly when 0 lies outside
    /// d ± sqrt(s²(s²+τ²)/τ² · (2 ln(1/α) + ln(1 + τ²/s²))), the half-width used here (and the same for any other null).
    /// </summary>
    /// <param name="treatment">The arm under test (the canary, or the recent window).</param>
    /// <param name="control">The arm it is compared with (the stable model, or its baseline).</param>
    /// <param name="alpha">The error rate the whole sequence keeps, in (0, 1).</param>
    /// <param name="mixtureScale">τ: the spread of differences the test is most sensitive to, on the rate scale (0.05 = five points).</param>
    public static DifferenceInterval Interval(ArmCounts treatment, ArmCounts control, double alpha, double mixtureScale)
    {
        treatment.Validate(nameof(treatment));
        control.Validate(nameof(control));
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1)");
        }

        if (!(mixtureScale > 0) || double.IsInfinity(mixtureScale))
        {
            throw new ArgumentOutOfRangeException(nameof(mixtureScale), mixtureScale, "the mixture scale must be positive");
        }

        if (treatment.Shown == 0 || control.Shown == 0)
        {
            return new DifferenceInterval(treatment.Rate - control.Rate, -1, 1, double.PositiveInfinity);
        }

        var variance = ArmVariance(treatment) + ArmVariance(control);
        var tau2 = mixtureScale * mixtureScale;
        var halfWidth = Math.Sqrt(variance * (variance + tau2) / tau2 * ((2 * Math.Log(1 / alpha)) + Math.Log(1 + (tau2 / variance))));
        var estimate = treatment.Rate - control.Rate;
        return new DifferenceInterval(estimate, Math.Max(-1, estimate - halfWidth), Math.Min(1, estimate + halfWidth), Math.Sqrt(variance));
    }

    // The variance of one arm's rate. The rate is shrunk half an observation towards 1/2 first, so an arm with no
    // engagement yet (or nothing but) still has a positive variance instead of a zero-width interval.
    private static double ArmVariance(ArmCounts arm)
    {
        var p = (arm.Engaged + 0.5) / (arm.Shown + 1.0);
        return p * (1 - p) / arm.Shown;
    }
}
