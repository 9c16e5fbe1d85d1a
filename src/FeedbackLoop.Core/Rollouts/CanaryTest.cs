using System.Globalization;

namespace FeedbackLoop.Core.Rollouts;

/// <summary>What a canary rollout does when its limit comes before the test decided.</summary>
public enum LimitOutcome
{
    /// <summary>
    /// Promote the canary (the default): the offline gate preferred it and the online test found no harm in all the
    /// sessions the limit allows; with this, only evidence rolls a canary back, so α bounds every false rollback.
    /// </summary>
    Promote,

    /// <summary>Keep the stable model: the canary could not show it is within the margin of stable (the cautious choice; equal canaries are often rolled back).</summary>
    RollBack,
}

/// <summary>The settings of the online comparison; every limit has a documented default (docs/ROLLOUT.md).</summary>
public sealed record SequentialTestOptions
{
    /// <summary>The largest chance, over the whole rollout however often it looks, of rolling back a canary that is not worse (default 0.05).</summary>
    public double Alpha { get; init; } = 0.05;

    /// <summary>τ, the normal mixture's scale on the rate scale: the size of difference the test finds fastest (default 0.05, five points).</summary>
    public double MixtureScale { get; init; } = 0.05;

    /// <summary>No decision before each arm has been shown this many times: the normal approximation needs it (default 200).</summary>
    public long MinShownPerArm { get; init; } = 200;

    /// <summary>The limit: once both arms were shown this many times without a decision, <see cref="AtLimit"/> decides (default 20,000).</summary>
    public long MaxShownPerArm { get; init; } = 20_000;

    /// <summary>How much worse than stable (absolute rate) a canary may be and still be promoted early (default 0.02, two points).</summary>
    public double Margin { get; init; } = 0.02;

    /// <summary>What happens at the limit (default: promote, see <see cref="LimitOutcome.Promote"/>).</summary>
    public LimitOutcome AtLimit { get; init; } = LimitOutcome.Promote;

    /// <summary>Refuses settings the test cannot keep its guarantee with, naming the setting.</summary>
    public void Validate()
    {
        if (!(Alpha > 0 && Alpha < 1)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "alpha must be in (0, 1)");
        if (!(MixtureScale > 0 && MixtureScale <= 1)) throw new ArgumentOutOfRangeException(nameof(MixtureScale), MixtureScale, "the mixture scale must be in (0, 1]");
        if (MinShownPerArm < 1) throw new ArgumentOutOfRangeException(nameof(MinShownPerArm), MinShownPerArm, "at least 1");
        if (MaxShownPerArm < MinShownPerArm) throw new ArgumentOutOfRangeException(nameof(MaxShownPerArm), MaxShownPerArm, "at least MinShownPerArm");
        if (!(Margin >= 0 && Margin < 1)) throw new ArgumentOutOfRangeException(nameof(Margin), Margin, "the margin must be in [0, 1)");
    }
}

/// <summary>What the canary test says at one look.</summary>
public enum CanaryVerdict
{
    /// <summary>Not enough evidence either way yet: keep the split, look again later.</summary>
    Continue,

    /// <summary>The canary is no worse than stable by more than the margin: serve it to everyone.</summary>
    Promote,

    /// <summary>The canary is worse than stable (or the limit came first, with <see cref="LimitOutcome.RollBack"/>): put stable back.</summary>
    RollBack,
}

/// <summary>The decision at one look, with the numbers it rests on and a reason that states them.</summary>
/// <param name="Verdict">Continue, promote or roll back.</param>
/// <param name="Reason">Why, with the rates, counts and interval.</param>
/// <param name="Stable">The stable arm's counts.</param>
/// <param name="Canary">The canary arm's counts.</param>
/// <param name="Interval">The always-valid interval for canary − stable; null before the minimum sample.</param>
public sealed record CanaryDecision(CanaryVerdict Verdict, string Reason, ArmCounts Stable, ArmCounts Canary, DifferenceInterval? Interval);

/// <summary>
/// The canary rule (issue 14, item 3): the canary's engagement rate against the stable model's on concurrent sessions,
/// looked at as often as one likes. Roll back as soon as the always-valid interval for canary − stable lies below 0
/// (the canary is worse); promote as soon as it lies above −margin (the canary is no worse than the margin); otherwise
/// continue, until the limit decides (<see cref="SequentialTestOptions.AtLimit"/>). A canary that is in truth no worse
/// than stable is rolled back on evidence with probability at most α over the whole rollout; one worse by more than the
/// margin is promoted early with probability at most α.
/// </summary>
public static class CanaryTest
{
    /// <summary>The decision after the counts so far.</summary>
    public static CanaryDecision Decide(ArmCounts stable, ArmCounts canary, SequentialTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        stable.Validate(nameof(stable));
        canary.Validate(nameof(canary));
        if (Math.Min(stable.Shown, canary.Shown) < options.MinShownPerArm)
        {
            return new CanaryDecision(CanaryVerdict.Continue,
                Text($"waiting for {options.MinShownPerArm} shown per arm (stable {stable.Shown}, canary {canary.Shown})"), stable, canary, null);
        }

        var interval = SequentialTest.Interval(canary, stable, options.Alpha, options.MixtureScale);
        var numbers = Text($"canary {canary} vs stable {stable}; difference {interval} (always-valid, alpha {options.Alpha})");
        if (interval.Upper < 0)
        {
            return new CanaryDecision(CanaryVerdict.RollBack, $"canary engagement is lower: {numbers}", stable, canary, interval);
        }

        if (interval.Lower > -options.Margin)
        {
            return new CanaryDecision(CanaryVerdict.Promote, Text($"canary is no worse than stable by more than {options.Margin}: {numbers}"), stable, canary, interval);
        }

        if (Math.Min(stable.Shown, canary.Shown) >= options.MaxShownPerArm)
        {
            var verdict = options.AtLimit == LimitOutcome.Promote ? CanaryVerdict.Promote : CanaryVerdict.RollBack;
            return new CanaryDecision(verdict,
                Text($"limit of {options.MaxShownPerArm} shown per arm reached without a decision ({(verdict == CanaryVerdict.Promote ? "promoting" : "rolling back")} as configured): {numbers}"),
                stable, canary, interval);
        }

        return new CanaryDecision(CanaryVerdict.Continue, $"no decision yet: {numbers}", stable, canary, interval);
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>What the drop test says at one look.</summary>
/// <param name="Dropped">True when the recent rate is lower than the baseline's, at the test's α however often it looks.</param>
/// <param name="Reason">The numbers, in words.</param>
/// <param name="Interval">The always-valid interval for recent − baseline; null before the minimum sample.</param>
public sealed record DropDecision(bool Dropped, string Reason, DifferenceInterval? Interval);

/// <summary>
/// The same machinery for a retrain trigger: has the stable model's engagement dropped against its own baseline (an
/// earlier window of the same model)? A model whose engagement did not drop raises the alarm with probability at most α
/// over all looks.
/// </summary>
public static class EngagementDropTest
{
    /// <summary>The decision after the counts so far.</summary>
    public static DropDecision Decide(ArmCounts baseline, ArmCounts recent, SequentialTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (Math.Min(baseline.Shown, recent.Shown) < options.MinShownPerArm)
        {
            return new DropDecision(false, string.Create(CultureInfo.InvariantCulture,
                $"waiting for {options.MinShownPerArm} shown per window (baseline {baseline.Shown}, recent {recent.Shown})"), null);
        }

        var interval = SequentialTest.Interval(recent, baseline, options.Alpha, options.MixtureScale);
        var numbers = string.Create(CultureInfo.InvariantCulture, $"recent {recent} vs baseline {baseline}; difference {interval} (always-valid, alpha {options.Alpha})");
        return interval.Upper < 0
            ? new DropDecision(true, $"engagement dropped: {numbers}", interval)
            : new DropDecision(false, $"no drop shown: {numbers}", interval);
    }
}
