using System.Text.Json;
using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Core.Tests.Gating;

/// <summary>An eval job's report through the gate: checks first, then the paired test when outcomes are there, else the summaries.</summary>
public sealed class EvalReportGateTests
{
    private static ModelScore Score(string json)
    {
        using var document = JsonDocument.Parse(json);
        return ModelScore.FromMetrics(document.RootElement);
    }

    private static Dictionary<string, bool> Outcomes(int correct, int wrong, string prefix = "p") =>
        Enumerable.Range(0, correct + wrong).ToDictionary(i => $"{prefix}{i}", i => i < correct);

    [Fact]
    public void An_evaluators_metrics_are_read_with_the_standard_error_computed_when_absent()
    {
        var score = Score("""{"accuracy": 0.75, "eval_pairs": 300, "ties": 0, "baselines": {"x": 1}}""");

        Assert.Equal((0.75, 300, (IReadOnlyDictionary<string, bool>?)null), (score.Accuracy, score.EvalPairs, score.Outcomes));
        Assert.Equal(Math.Sqrt(0.75 * 0.25 / 300), score.StandardError, 12);
        Assert.Equal(0.031, Score("""{"accuracy": 0.5, "eval_pairs": 10, "standard_error": 0.031}""").StandardError);
    }

    [Theory]
    [InlineData("""[]""", "metrics.json must hold a JSON object, got Array")]
    [InlineData("""{"eval_pairs": 3}""", "metrics.json has no number 'accuracy'")]
    [InlineData("""{"accuracy": "0.7", "eval_pairs": 3}""", "metrics.json has no number 'accuracy'")]
    [InlineData("""{"accuracy": 1.2, "eval_pairs": 3}""", "metrics.json 'accuracy' must be in [0, 1], got 1.2")]
    [InlineData("""{"accuracy": 0.7}""", "metrics.json has no whole number 'eval_pairs' ≥ 0")]
    [InlineData("""{"accuracy": 0.7, "eval_pairs": 2.5}""", "metrics.json has no whole number 'eval_pairs' ≥ 0")]
    [InlineData("""{"accuracy": 0.7, "eval_pairs": 3, "standard_error": -1}""", "metrics.json 'standard_error' must be a number ≥ 0")]
    [InlineData("""{"accuracy": 0.5, "eval_pairs": 2, "outcomes": {"a": true, "b": 1}}""", "metrics.json 'outcomes' of pair 'b' must be true or false")]
    [InlineData("""{"accuracy": 0.5, "eval_pairs": 3, "outcomes": {"a": true, "b": false}}""", "metrics.json has 2 'outcomes' but 'eval_pairs' is 3")]
    public void Bad_metrics_are_refused_with_what_is_wrong(string json, string reason)
    {
        Assert.Equal(reason, Assert.Throws<InvalidDataException>(() => Score(json)).Message);
    }

    [Fact]
    public void With_outcomes_for_both_models_the_paired_test_decides()
    {
        // Same 100 pairs: the candidate is right on 85, the incumbent on the first 72 of them.
        var candidate = new ModelScore(0.85, 0.036, 100, Outcomes(85, 15));
        var incumbent = new ModelScore(0.72, 0.045, 100, Outcomes(72, 28));

        var decision = EvalGate.Decide(new EvalReport(candidate, incumbent, []), 0.02);

        Assert.True(decision.Promote);
        Assert.Equal("candidate 0.850 vs incumbent 0.720: +0.130 ≥ margin 0.02 and 95% lower bound +0.064 > 0 (n=100; SE candidate 0.036, incumbent 0.045)", decision.Reason);
    }

    [Fact]
    public void Without_outcomes_the_summaries_decide_with_the_unpaired_interval()
    {
        var candidate = new ModelScore(0.85, 0.036, 100, null);
        var incumbent = new ModelScore(0.72, 0.045, 100, null);

        var decision = EvalGate.Decide(new EvalReport(candidate, incumbent, []), 0.02);

        Assert.True(decision.Promote);
        Assert.Equal(0.13, decision.Difference, 12);
        Assert.Equal(0.13 - (1.96 * Math.Sqrt((0.036 * 0.036) + (0.045 * 0.045))), decision.Lower95!.Value, 12);
        Assert.EndsWith("(unpaired: per-pair outcomes not reported) (n=100; SE candidate 0.036, incumbent 0.045)", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_extra_check_rejects_even_a_clear_winner_and_names_every_failure()
    {
        var candidate = new ModelScore(0.9, 0.03, 100, null);
        var checks = new List<CheckResult>
        {
            new("check-refusals --model /m", 0, null),
            new("check-toxicity --model /m", 3, null),
            new("missing-check", null, "could not start 'missing-check': no such program (searched PATH)"),
        };

        var decision = EvalGate.Decide(new EvalReport(candidate, null, checks), 0.02);

        Assert.False(decision.Promote);
        Assert.Equal(
            "2 of 3 extra check(s) failed: check-toxicity --model /m exited 3; missing-check: could not start 'missing-check': no such program (searched PATH) (n=100; SE candidate 0.030)",
            decision.Reason);
    }

    [Fact]
    public void The_first_model_passes_on_a_non_empty_eval_set_and_an_empty_one_never_does()
    {
        Assert.True(EvalGate.Decide(new EvalReport(new ModelScore(0.4, 0.1, 24, null), null, [new CheckResult("ok", 0, null)]), 0.02).Promote);
        Assert.False(EvalGate.Decide(new EvalReport(new ModelScore(0, 0, 0, null), null, []), 0.02).Promote);
    }

    [Fact]
    public void Models_scored_on_different_pairs_cannot_be_gated()
    {
        var report = new EvalReport(new ModelScore(0.8, 0.04, 100, null), new ModelScore(0.7, 0.05, 90, null), []);

        Assert.Throws<ArgumentException>(() => EvalGate.Decide(report, 0.02));
    }

    [Fact]
    public void A_report_reads_back_from_its_json()
    {
        var report = new EvalReport(new ModelScore(0.5, 0.25, 2, Outcomes(1, 1)), null, [new CheckResult("c", 1, null)]);

        var back = EvalReport.Parse(report.ToJson());

        Assert.Equal(report.Candidate.Outcomes, back.Candidate.Outcomes);
        Assert.Equal((0.5, 0.25, 2), (back.Candidate.Accuracy, back.Candidate.StandardError, back.Candidate.EvalPairs));
        Assert.Null(back.Incumbent);
        Assert.Equal(report.Checks, back.Checks);
        Assert.Throws<InvalidDataException>(() => EvalReport.Parse("""{"train_pairs": 3}"""));
        Assert.Throws<InvalidDataException>(() => EvalReport.Parse("not json"));
    }
}
