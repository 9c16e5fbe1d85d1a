using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>The pure review rules as tables: which requests are refused and why, repeats, latest per item, and what each action does.</summary>
public sealed class ReviewRulesTests
{
    private static readonly ReviewSettings Settings = new() { MaxReviewerLength = 8, MaxReasonLength = 10, MaxCorrectionLength = 12 };

    [Theory]
    [InlineData("pair", "approve", "ann", null, null, null)]
    [InlineData("pair", "exclude", "ann", "harmful", null, null)]
    [InlineData("pair", "exclude", "ann", "my words", null, null)]
    [InlineData("pair", "swap", "ann", null, null, null)]
    [InlineData("pair", "correct", "ann", null, "Better.", null)]
    [InlineData("label", "flip", "ann", null, null, null)]
    [InlineData("label", "exclude", "ann", "duplicate", null, null)]
    [InlineData("pair", "flip", "ann", null, null, "a pair takes one of approve, exclude, swap, correct")]
    [InlineData("label", "swap", "ann", null, null, "a label takes one of approve, exclude, flip")]
    [InlineData("label", "correct", "ann", null, "x", "a label takes one of approve, exclude, flip")]
    [InlineData("pair", "none", "ann", null, null, "a pair takes one of approve, exclude, swap, correct")]
    [InlineData("pair", "approve", " ", null, null, "the reviewer name is empty")]
    [InlineData("pair", "approve", "123456789", null, null, "the reviewer name is longer than 8 characters")]
    [InlineData("pair", "approve", "a\u001b[2J", null, null, "the reviewer name holds control characters")]
    [InlineData("pair", "approve", "a\u202eb", null, null, "the reviewer name holds control characters")]
    [InlineData("pair", "exclude", "ann", null, null, "an exclusion needs a reason: one of off-topic, harmful, personal-data, low-quality, both-bad, wrong-preference, duplicate, extraction-error, or free text")]
    [InlineData("pair", "exclude", "ann", "  ", null, "an exclusion needs a reason: one of off-topic, harmful, personal-data, low-quality, both-bad, wrong-preference, duplicate, extraction-error, or free text")]
    [InlineData("pair", "exclude", "ann", "12345678901", null, "the reason is longer than 10 characters")]
    [InlineData("pair", "exclude", "ann", "a\nb", null, "the reason holds control characters (line breaks included)")]
    [InlineData("pair", "correct", "ann", null, null, "a correction needs the corrected answer's text")]
    [InlineData("pair", "correct", "ann", null, " ", "a correction needs the corrected answer's text")]
    [InlineData("pair", "swap", "ann", null, "text", "only a correction takes a text")]
    [InlineData("pair", "correct", "ann", null, "1234567890123", "the corrected text is longer than 12 characters")]
    [InlineData("pair", "correct", "ann", null, "line\nbreak", null)]
    public void A_request_is_refused_for_exactly_one_stated_reason(string kind, string action, string reviewer, string? reason, string? text, string? refusal) =>
        Assert.Equal(refusal, ReviewRules.Refusal(new ReviewRequest("item", action, reviewer, reason, text), kind, Settings));

    [Theory]
    [InlineData("exclude", "harmful", null, "ann", "exclude", "harmful", null, "ann", true)]
    [InlineData("exclude", "harmful", null, "ann", "exclude", "harmful", null, "bob", false)]
    [InlineData("exclude", "harmful", null, "ann", "exclude", "duplicate", null, "ann", false)]
    [InlineData("correct", null, "A", "ann", "correct", null, "B", "ann", false)]
    [InlineData("correct", null, "A", "ann", "correct", null, "A", "ann", true)]
    [InlineData("approve", null, null, "ann", "swap", null, null, "ann", false)]
    public void A_request_repeats_the_latest_decision_only_when_action_reason_text_and_reviewer_match(
        string lastAction, string? lastReason, string? lastText, string lastReviewer, string action, string? reason, string? text, string reviewer, bool repeats)
    {
        var latest = Decision("p1", lastAction, lastReviewer, lastReason, lastText);
        Assert.Equal(repeats, ReviewRules.Repeats(latest, new ReviewRequest("p1", action, reviewer, reason, text)));
    }

    [Fact]
    public void Nothing_repeats_when_the_item_has_no_decision() =>
        Assert.False(ReviewRules.Repeats(null, new ReviewRequest("p1", ReviewActions.Approve, "ann")));

    [Fact]
    public void The_latest_decision_per_item_is_the_last_in_log_order_whatever_its_time()
    {
        var log = new[]
        {
            Decision("p1", ReviewActions.Exclude, "ann", "harmful") with { DecidedAt = DateTimeOffset.UnixEpoch.AddDays(2) },
            Decision("p2", ReviewActions.Swap, "ann"),
            Decision("p1", ReviewActions.Approve, "bob") with { DecidedAt = DateTimeOffset.UnixEpoch.AddDays(1) },
        };

        var latest = ReviewRules.Latest(log);

        Assert.Equal(2, latest.Count);
        Assert.Equal(ReviewActions.Approve, latest["p1"].Action);
        Assert.Equal(ReviewActions.Swap, latest["p2"].Action);
    }

    [Theory]
    [InlineData("none", "Paris.", "Lyon.", "model-a", "model-b", "g1", "g1-rejected")]
    [InlineData("approve", "Paris.", "Lyon.", "model-a", "model-b", "g1", "g1-rejected")]
    [InlineData("swap", "Lyon.", "Paris.", "model-b", "model-a", "g1-rejected", "g1")]
    [InlineData("correct", "Paris, France.", "Lyon.", ReviewRules.CorrectionModelVersion, "model-b", "g1", "g1-rejected")]
    [InlineData("exclude", null, null, null, null, null, null)]
    public void A_pair_trains_as_its_review_says(string action, string? chosen, string? rejected, string? chosenModel, string? rejectedModel, string? chosenId, string? rejectedId)
    {
        var pair = Samples.Pair(Samples.Shop, "g1", Samples.Start);
        var state = new ReviewState(action, action == ReviewActions.Exclude ? "harmful" : null, action == ReviewActions.Correct ? "Paris, France." : null);

        var reviewed = ReviewRules.Apply(pair, state);

        Assert.Equal(chosen, reviewed?.Chosen.Content);
        Assert.Equal(rejected, reviewed?.Rejected.Content);
        Assert.Equal(chosenModel, reviewed?.ChosenModelVersion);
        Assert.Equal(rejectedModel, reviewed?.RejectedModelVersion);
        Assert.Equal(chosenId, reviewed?.ChosenGenerationId);
        Assert.Equal(rejectedId, reviewed?.RejectedGenerationId);
        if (reviewed is not null)
        {
            Assert.Equal(pair.PairId, reviewed.PairId);
            Assert.Equal(pair.Prompt, reviewed.Prompt);
        }
    }

    [Theory]
    [InlineData("none", true, true)]
    [InlineData("approve", true, true)]
    [InlineData("flip", true, false)]
    [InlineData("flip", false, true)]
    [InlineData("exclude", true, null)]
    public void A_label_trains_as_its_review_says(string action, bool label, bool? trained)
    {
        var row = new FeedbackLabel("l1", Samples.Shop, Samples.Prompt, new ConversationTurn("assistant", "Paris."), label, "g1", "model-a", "s1", "u1", Samples.Start);

        Assert.Equal(trained, ReviewRules.Apply(row, new ReviewState(action, action == ReviewActions.Exclude ? "duplicate" : null))?.Label);
    }

    internal static ReviewDecision Decision(string item, string action, string reviewer, string? reason = null, string? text = null) =>
        new("dec-" + item + action, Samples.Shop, item, ReviewItemKinds.Pair, action, reason, text, reviewer, DateTimeOffset.UnixEpoch, ReviewState.Unreviewed, null);
}
