using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Review.Queue;

/// <summary>
/// The list page's filter: signal, model version (either side), a time range (UTC, from inclusive, to exclusive), text
/// in the prompt or either answer (ordinal, case-insensitive) and review state. Empty fields match everything.
/// </summary>
public sealed record PairFilter(string? Signal, string? ModelVersion, DateTimeOffset? From, DateTimeOffset? To, string? Text, string? State)
{
    /// <summary>The longest text searched for, in characters.</summary>
    public const int MaxTextLength = 200;

    public bool Matches(PreferencePair pair, ReviewState state)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(state);
        return (string.IsNullOrEmpty(Signal) || pair.Signal == Signal)
            && (string.IsNullOrEmpty(ModelVersion) || pair.ChosenModelVersion == ModelVersion || pair.RejectedModelVersion == ModelVersion)
            && (From is not { } from || pair.CreatedAt >= from)
            && (To is not { } to || pair.CreatedAt < to)
            && (string.IsNullOrEmpty(State) || state.Action == State)
            && (string.IsNullOrEmpty(Text) || Contains(pair, Text));
    }

    private static bool Contains(PreferencePair pair, string text) =>
        pair.Chosen.Content.Contains(text, StringComparison.OrdinalIgnoreCase)
        || pair.Rejected.Content.Contains(text, StringComparison.OrdinalIgnoreCase)
        || pair.Prompt.Any(m => m.Content.Contains(text, StringComparison.OrdinalIgnoreCase));
}
