using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Datasets.Review;

/// <summary>
/// The pure decisions of review: whether a request is acceptable, which decision is in force for each item, and what a
/// decision does to a row. Table-tested; the log and the snapshot only call these.
/// </summary>
public static class ReviewRules
{
    /// <summary>The <c>chosen_model_version</c> of a pair whose chosen text a reviewer wrote.</summary>
    public const string CorrectionModelVersion = "review-correction";

    /// <summary>
    /// Why <paramref name="request"/> cannot be recorded for an item of <paramref name="kind"/>, or null when it can. The
    /// reason names the rule broken, never the text sent.
    /// </summary>
    public static string? Refusal(ReviewRequest request, string kind, ReviewSettings settings)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(settings);
        var actions = ReviewActions.For(kind);
        if (!actions.Contains(request.Action, StringComparer.Ordinal))
            return $"a {kind} takes one of {string.Join(", ", actions)}";
        if (string.IsNullOrWhiteSpace(request.Reviewer))
            return "the reviewer name is empty";
        if (request.Reviewer.Length > settings.MaxReviewerLength)
            return $"the reviewer name is longer than {settings.MaxReviewerLength} characters";
        if (HasControl(request.Reviewer))
            return "the reviewer name holds control characters";
        if (request.Action == ReviewActions.Exclude && string.IsNullOrWhiteSpace(request.Reason))
            return "an exclusion needs a reason: one of " + string.Join(", ", ExclusionReasons.Listed) + ", or free text";
        if (request.Reason is not null && request.Reason.Length > settings.MaxReasonLength)
            return $"the reason is longer than {settings.MaxReasonLength} characters";
        if (request.Reason is not null && HasControl(request.Reason))
            return "the reason holds control characters (line breaks included)";
        if (request.Action == ReviewActions.Correct && string.IsNullOrWhiteSpace(request.Text))
            return "a correction needs the corrected answer's text";
        if (request.Action != ReviewActions.Correct && request.Text is not null)
            return "only a correction takes a text";
        if (request.Text is not null && request.Text.Length > settings.MaxCorrectionLength)
            return $"the corrected text is longer than {settings.MaxCorrectionLength} characters";
        return null;
    }

    /// <summary>
    /// Whether recording <paramref name="request"/> would change nothing: the item's latest decision is the same action,
    /// reason, text and reviewer. Retried scripts then add no line; another reviewer's identical decision is recorded
    /// (agreement needs it).
    /// </summary>
    public static bool Repeats(ReviewDecision? latest, ReviewRequest request) =>
        latest is not null && request is not null && latest.Action == request.Action && latest.Reason == request.Reason
        && latest.Text == request.Text && latest.Reviewer == request.Reviewer;

    /// <summary>The decision in force for each item: the last one in log order (the log's order is the order of writes).</summary>
    public static IReadOnlyDictionary<string, ReviewDecision> Latest(IEnumerable<ReviewDecision> log)
    {
        var latest = new Dictionary<string, ReviewDecision>(StringComparer.Ordinal);
        foreach (var decision in log) latest[decision.Item] = decision;
        return latest;
    }

    /// <summary>The pair as it trains under <paramref name="state"/>; null when excluded.</summary>
    public static PreferencePair? Apply(PreferencePair pair, ReviewState state)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(state);
        return state.Action switch
        {
            ReviewActions.Exclude => null,
            ReviewActions.Swap => pair with
            {
                Chosen = pair.Rejected, Rejected = pair.Chosen,
                ChosenGenerationId = pair.RejectedGenerationId, RejectedGenerationId = pair.ChosenGenerationId,
                ChosenModelVersion = pair.RejectedModelVersion, RejectedModelVersion = pair.ChosenModelVersion,
            },
            // The generation id still names the answer that was corrected, so the original stays one lookup away.
            ReviewActions.Correct => pair with { Chosen = new ConversationTurn(pair.Chosen.Role, state.Text!), ChosenModelVersion = CorrectionModelVersion },
            _ => pair,
        };
    }

    /// <summary>The label as it trains under <paramref name="state"/>; null when excluded.</summary>
    public static FeedbackLabel? Apply(FeedbackLabel label, ReviewState state)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(state);
        return state.Action switch
        {
            ReviewActions.Exclude => null,
            ReviewActions.Flip => label with { Label = !label.Label },
            _ => label,
        };
    }

    private static bool HasControl(string text)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator)
                return true;
        }
        return false;
    }
}
