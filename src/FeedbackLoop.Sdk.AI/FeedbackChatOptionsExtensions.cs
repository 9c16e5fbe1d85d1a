using FeedbackLoop.Sdk.AI;

namespace Microsoft.Extensions.AI;

/// <summary>Marks a chat call's answer as one of several shown side by side.</summary>
public static class FeedbackChatOptionsExtensions
{
    /// <summary>
    /// A copy of <paramref name="options"/> (new options when null) whose answer the chat middleware reports as candidate
    /// <paramref name="position"/> (0 = first) of <paramref name="candidateSetId"/>. Ask once per candidate with the same
    /// set id; when the user picks one, call <c>feedback.ComparisonChosen(session, user, candidateSetId, chosen.GetGenerationId())</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="candidateSetId"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is negative.</exception>
    public static ChatOptions AsCandidate(this ChatOptions? options, string candidateSetId, int position)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(candidateSetId);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        var copy = options?.Clone() ?? new ChatOptions();
        // A fresh dictionary: the clone shares the caller's, and the candidates of one set must not overwrite each other.
        copy.AdditionalProperties = copy.AdditionalProperties is null ? [] : new AdditionalPropertiesDictionary(copy.AdditionalProperties);
        copy.AdditionalProperties[FeedbackChatClient.CandidateSetIdKey] = candidateSetId;
        copy.AdditionalProperties[FeedbackChatClient.PositionKey] = position;
        return copy;
    }
}
