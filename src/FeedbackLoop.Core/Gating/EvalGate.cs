using System.Globalization;

namespace FeedbackLoop.Core.Gating;

/// <summary>
/// Decides whether a candidate model replaces the incumbent. Both are judged on the same eval pairs and compared
/// pair by pair: the paired difference cancels the pairs both get right (or both get wrong), so a real gain shows
/// with far fewer pairs than comparing two independent accuracies would need.
/// </summary>
public static class EvalGate
{
    // Two-sided 95% normal quantile.
    private const double Z95 = 1.96;

    /// <summary>
    /// Promotes when there is no incumbent; otherwise promotes iff the mean paired difference (candidate − incumbent)
    /// is at least <paramref name="margin"/> AND the lower end of its 95% interval is above 0. An empty eval set
    /// never promotes: a model nobody measured must not reach users.
    /// </summary>
    /// <exception cref="ArgumentException">The two outcome sets are not over the same pair ids.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The margin is not a finite number.</exception>
    public static GateDecision Decide(PairwiseOutcomes candidate, PairwiseOutcomes? incumbent, double margin)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (!double.IsFinite(margin))
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be a finite number.");
        }
        if (incumbent is not null && !candidate.CoversSamePairsAs(incumbent))
        {
            throw new ArgumentException(
                $"Candidate ({candidate.Count} pairs) and incumbent ({incumbent.Count} pairs) were not evaluated on the same pair ids.",
                nameof(incumbent));
        }

        if (candidate.Count == 0)
        {
            return new GateDecision(false, candidate.Accuracy, incumbent?.Accuracy, 0, null,
                "the eval set is empty: nothing to judge the candidate on");
        }
        if (incumbent is null)
        {
            return new GateDecision(true, candidate.Accuracy, null, 0, null,
                $"candidate {Acc(candidate.Accuracy)} on {candidate.Count} eval pairs; no incumbent to beat");
        }

        var n = candidate.Count;
        var sum = 0;
        var sumOfSquares = 0;
        foreach (var outcome in candidate.Outcomes)
        {
            var d = (outcome.Correct ? 1 : 0) - (incumbent.IsCorrect(outcome.PairId) ? 1 : 0);
            sum += d;
            sumOfSquares += d * d;
        }
        var mean = (double)sum / n;
        var head = $"candidate {Acc(candidate.Accuracy)} vs incumbent {Acc(incumbent.Accuracy)}: {Signed(mean)}";
        var meetsMargin = mean >= margin;
        var marginClause = meetsMargin ? $"≥ margin {Plain(margin)}" : $"< margin {Plain(margin)}";

        // The sample variance needs two pairs; with one, any "interval" would be made up.
        if (n < 2)
        {
            return new GateDecision(false, candidate.Accuracy, incumbent.Accuracy, mean, null,
                $"{head} {marginClause}, but 1 eval pair is too few for a 95% interval");
        }

        // Sample variance of d from the integer sums, exact up to the final division.
        var variance = Math.Max(0, (sumOfSquares - (n * mean * mean)) / (n - 1));
        var lower95 = mean - (Z95 * Math.Sqrt(variance / n));
        var excludesZero = lower95 > 0;
        var boundClause = excludesZero
            ? $"95% lower bound {Signed(lower95)} > 0"
            : $"95% lower bound {Signed(lower95)} ≤ 0";
        var joiner = meetsMargin == excludesZero ? "and" : "but";
        return new GateDecision(meetsMargin && excludesZero, candidate.Accuracy, incumbent.Accuracy, mean, lower95,
            $"{head} {marginClause} {joiner} {boundClause}");
    }

    /// <summary>
    /// The same gate when only summaries are known (an external evaluator that reports accuracy, standard error and the
    /// number of pairs, not each pair's outcome). Promotes when there is no incumbent; otherwise iff the difference is at
    /// least <paramref name="margin"/> AND the lower end of its 95% interval is above 0, with the interval's standard
    /// error √(SE_c² + SE_i²) as for two independent samples. Both were scored on the same pairs, whose errors agree
    /// more often than chance, so this overstates the error: it can keep a real gain out, never let a spurious one in
    /// more easily than the paired test.
    /// </summary>
    /// <exception cref="ArgumentException">The two were scored on different numbers of pairs, or a number is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The margin is not a finite number.</exception>
    public static GateDecision DecideOnSummaries(AccuracySummary candidate, AccuracySummary? incumbent, double margin)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (!double.IsFinite(margin))
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be a finite number.");
        }

        Validate(candidate, nameof(candidate));
        if (incumbent is not null)
        {
            Validate(incumbent, nameof(incumbent));
            if (incumbent.Count != candidate.Count)
            {
                throw new ArgumentException(
                    $"Candidate ({candidate.Count} pairs) and incumbent ({incumbent.Count} pairs) were not scored on the same pairs.", nameof(incumbent));
            }
        }

        if (candidate.Count == 0)
        {
            return new GateDecision(false, candidate.Accuracy, incumbent?.Accuracy, 0, null,
                "the eval set is empty: nothing to judge the candidate on");
        }

        if (incumbent is null)
        {
            return new GateDecision(true, candidate.Accuracy, null, 0, null,
                $"candidate {Acc(candidate.Accuracy)} on {candidate.Count} eval pairs; no incumbent to beat");
        }

        var difference = candidate.Accuracy - incumbent.Accuracy;
        var head = $"candidate {Acc(candidate.Accuracy)} vs incumbent {Acc(incumbent.Accuracy)}: {Signed(difference)}";
        var meetsMargin = difference >= margin;
        var marginClause = meetsMargin ? $"≥ margin {Plain(margin)}" : $"< margin {Plain(margin)}";
        var lower95 = difference - (Z95 * Math.Sqrt((candidate.StandardError * candidate.StandardError) + (incumbent.StandardError * incumbent.StandardError)));
        var excludesZero = lower95 > 0;
        var boundClause = excludesZero
            ? $"95% lower bound {Signed(lower95)} > 0"
            : $"95% lower bound {Signed(lower95)} ≤ 0";
        var joiner = meetsMargin == excludesZero ? "and" : "but";
        return new GateDecision(meetsMargin && excludesZero, candidate.Accuracy, incumbent.Accuracy, difference, lower95,
            $"{head} {marginClause} {joiner} {boundClause} (unpaired: per-pair outcomes not reported)");
    }

    private static void Validate(AccuracySummary summary, string name)
    {
        if (!(summary.Accuracy is >= 0 and <= 1) || !(summary.StandardError >= 0 && double.IsFinite(summary.StandardError)) || summary.Count < 0)
        {
            throw new ArgumentException(
                $"The {name}'s summary is out of range: accuracy {summary.Accuracy}, standard error {summary.StandardError}, {summary.Count} pairs.", name);
        }
    }

    private static string Acc(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static string Signed(double value) => value.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture);

    private static string Plain(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>
    /// Rejects when any extra check failed; otherwise <see cref="Decide(PairwiseOutcomes, PairwiseOutcomes?, double)"/> on the per-pair outcomes when both models
    /// have them (the paired test), else <see cref="DecideOnSummaries"/>. The reason ends with n, which held-out pairs they were
    /// when <c>eval.recency</c> chose them, and the standard errors.
    /// </summary>
    /// <exception cref="ArgumentException">The two were not scored on the same pairs.</exception>
    public static GateDecision Decide(EvalReport report, double margin)
    {
        ArgumentNullException.ThrowIfNull(report);
        var candidate = report.Candidate;
        var incumbent = report.Incumbent;
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        GateDecision decision;
        if (failed.Count > 0)
        {
            var difference = incumbent is null ? 0 : candidate.Accuracy - incumbent.Accuracy;
            decision = new GateDecision(false, candidate.Accuracy, incumbent?.Accuracy, difference, null,
                $"{failed.Count} of {report.Checks.Count} extra check(s) failed: "
                + string.Join("; ", failed.Select(c => c.Error is null
                    ? string.Create(CultureInfo.InvariantCulture, $"{c.Command} exited {c.ExitCode}")
                    : $"{c.Command}: {c.Error}")));
        }
        else if (candidate.ToOutcomes() is { } candidateOutcomes && (incumbent is null || incumbent.Outcomes is not null))
        {
            decision = Decide(candidateOutcomes, incumbent?.ToOutcomes(), margin);
        }
        else
        {
            decision = DecideOnSummaries(candidate.ToSummary(), incumbent?.ToSummary(), margin);
        }

        // The standard errors go into the recorded reason, so the registry shows how sure each number is.
        return decision with
        {
            Reason = string.Create(CultureInfo.InvariantCulture,
                $"{decision.Reason} (n={candidate.EvalPairs}{(report.PairsUsed is { } used ? $": {used.Describe()}" : "")}; SE candidate {candidate.StandardError:0.000}{(incumbent is null ? "" : $", incumbent {incumbent.StandardError:0.000}")})"),
        };
    }
}
