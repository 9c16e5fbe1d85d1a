using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tests.Runs;

/// <summary>Run and candidate names by trigger, and the run step's refusal to promote on a stale gate verdict.</summary>
public sealed class RunTriggerTests
{
    [Theory]
    [InlineData(RunTrigger.Pairs, 0, "demo-run-000000352", "demo-m352")]
    [InlineData(RunTrigger.Manual, 0, "demo-run-000000352-manual1", "demo-m352-manual1")]
    [InlineData(RunTrigger.Manual, 2, "demo-run-000000352-manual3", "demo-m352-manual3")]
    [InlineData(RunTrigger.Retry, 1, "demo-run-000000352-retry2", "demo-m352-retry2")]
    public void Names_by_trigger(RunTrigger trigger, int ordinal, string runId, string version)
    {
        Assert.Equal(runId, RunNames.RunId("demo", 352, trigger, ordinal));
        Assert.Equal(version, RunNames.CandidateVersion("demo", 352, trigger, ordinal));
    }

    [Theory]
    [InlineData(RunTrigger.Pairs)]
    [InlineData(RunTrigger.Manual)]
    [InlineData(RunTrigger.Retry)]
    public void Trigger_text_reads_back(RunTrigger trigger) => Assert.Equal(trigger, RunNames.ParseTrigger(RunNames.Text(trigger)));

    [Fact]
    public void A_trigger_of_a_newer_build_is_refused_by_name() =>
        Assert.Contains("'cron'", Assert.Throws<InvalidDataException>(() => RunNames.ParseTrigger("cron")).Message, StringComparison.Ordinal);

    private static readonly RecordedDecision Passed = new(true, "candidate 0.700 vs incumbent 0.600");

    public static TheoryData<string, bool, string?, RunAction> StaleTable() => new()
    {
        { "fresh verdict: promote", true, null, RunAction.PromoteCandidate },
        {
            "another model became current after the gate: complete without promoting",
            true, "gated against 'm200', current is 'm418'",
            new RunAction.CompleteRun(RunOutcome.Superseded, "passed the gate, not promoted: gated against 'm200', current is 'm418'")
        },
        { "already promoted: the run completes as promoted, stale or not", false, "gated against 'm200'", new RunAction.CompleteRun(RunOutcome.Promoted, Passed.Reason) },
    };

    [Theory]
    [MemberData(nameof(StaleTable))]
    public void A_stale_gate_verdict_never_promotes_automatically(string situation, bool awaitsPromotion, string? staleGate, RunAction expected)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var succeeded = new Stage(StageState.Succeeded);
        var facts = new RunFacts(true, succeeded, true, succeeded, Passed, awaitsPromotion, RequireSignoff: false, staleGate);
        Assert.Equal(expected, RunStep.Next(facts));
    }
}
