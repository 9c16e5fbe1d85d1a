using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tests.Runs;

/// <summary>
/// The promotion rules as a table: who asks, what the registry holds about the version, and whether it is forced →
/// allowed, allowed only by force, or refused (with the words the person reads).
/// </summary>
public sealed class PromotionRulesTests
{
    private const string Allowed = "allowed";
    private const string Forced = "allowed by force";
    private const string Refused = "refused";

    // m418 passed the gate against m200; m352 passed against m200 too, then m418 became current (the report).
    public static TheoryData<string, PromotionRequest, PromotionFacts, bool, string, string?> Table() => new()
    {
        { "approve a passed candidate gated against the current model", PromotionRequest.Approve, Passed("m200", "m200"), false, Allowed, null },
        { "approve the app's first model (no model then, none now)", PromotionRequest.Approve, Passed(null, null), false, Allowed, null },
        {
            "approve a candidate gated against a model that no longer serves",
            PromotionRequest.Approve, Passed("m200", "m418"), false, Refused, "was gated against 'm200', but the app's current model is now 'm418'"
        },
        { "the same, forced", PromotionRequest.Approve, Passed("m200", "m418"), true, Forced, "was gated against 'm200'" },
        {
            "approve a candidate gated when the app had no model, after one was promoted",
            PromotionRequest.Approve, Passed(null, "m418"), false, Refused, "was gated against no model"
        },
        { "approve a rejected candidate: force does not turn approve into override", PromotionRequest.Approve, Rejected(), true, Refused, "is rejected, not a candidate" },
        { "approve an undecided candidate", PromotionRequest.Approve, Undecided(), true, Refused, "has no gate decision yet" },
        { "approve a retired version", PromotionRequest.Approve, Retired(), false, Refused, "is retired, not a candidate waiting for sign-off" },
        { "approve the current model", PromotionRequest.Approve, Current(), true, Refused, "is promoted, not a candidate waiting for sign-off" },
        { "promote a passed candidate gated against the current model", PromotionRequest.PromoteByHand, Passed("m200", "m200"), false, Allowed, null },
        { "promote a stale candidate", PromotionRequest.PromoteByHand, Passed("m200", "m418"), false, Refused, "pass --force --reason <why> to override" },
        { "promote a stale candidate, forced", PromotionRequest.PromoteByHand, Passed("m200", "m418"), true, Forced, "but the app's current model is now 'm418'" },
        { "promote a rejected candidate", PromotionRequest.PromoteByHand, Rejected(), false, Refused, "was rejected by the gate (below the margin)" },
        { "promote a rejected candidate, forced", PromotionRequest.PromoteByHand, Rejected(), true, Forced, "was rejected by the gate (below the margin)" },
        { "promote an undecided candidate: no verdict to override", PromotionRequest.PromoteByHand, Undecided(), false, Allowed, null },
        { "promote a retired version: going back to a model that served", PromotionRequest.PromoteByHand, Retired(), false, Allowed, null },
        { "promote the current model", PromotionRequest.PromoteByHand, Current(), true, Refused, "already is the app's current model" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Check(string situation, PromotionRequest request, PromotionFacts facts, bool force, string expected, string? words)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var verdict = PromotionRules.Check(request, facts, force);

        var outcome = verdict switch
        {
            { Allowed: true, Overridden: true } => Forced,
            { Allowed: true } => Allowed,
            _ => Refused,
        };
        Assert.Equal(expected, outcome);
        if (words is null)
        {
            Assert.Null(verdict.Refusal);
        }
        else
        {
            Assert.Contains(words, verdict.Refusal, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("m200", "m200", false)]
    [InlineData(null, null, false)]
    [InlineData("m200", "m418", true)]
    [InlineData(null, "m418", true)]
    [InlineData("m200", null, true)]
    public void A_gate_verdict_is_stale_once_another_model_serves(string? gatedAgainst, string? currentNow, bool stale) =>
        Assert.Equal(stale, Passed(gatedAgainst, currentNow).GateIsStale);

    [Fact]
    public void An_undecided_candidate_has_no_verdict_to_go_stale() =>
        Assert.False(Undecided() with { GatedAgainst = "m1", CurrentNow = "m2" } is { GateIsStale: true });

    private static PromotionFacts Passed(string? gatedAgainst, string? currentNow) =>
        new("m352", VersionState.Candidate, true, "candidate 0.70 vs incumbent 0.60", gatedAgainst, currentNow);

    private static PromotionFacts Rejected() => new("m352", VersionState.Rejected, false, "below the margin", "m200", "m200");

    private static PromotionFacts Undecided() => new("m352", VersionState.Candidate, null, null, null, "m200");

    private static PromotionFacts Retired() => new("m352", VersionState.Retired, true, "passed", null, "m418");

    private static PromotionFacts Current() => new("m352", VersionState.Current, true, "passed", null, "m352");
}
