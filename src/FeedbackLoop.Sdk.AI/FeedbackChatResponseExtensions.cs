using FeedbackLoop.Sdk.AI;

namespace Microsoft.Extensions.AI;

/// <summary>Reads the generation id <see cref="FeedbackChatClient"/> put on a response, for feedback on it.</summary>
public static class FeedbackChatResponseExtensions
{
    /// <summary>The <c>generation_id</c> this response was reported under; null when no FeedbackLoop middleware saw it.</summary>
    public static string? GetGenerationId(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.AdditionalProperties?.TryGetValue(FeedbackChatClient.GenerationIdKey, out var id) == true ? id as string : null;
    }

    /// <summary>The <c>generation_id</c> of the streamed response this update belongs to; null when no FeedbackLoop middleware saw it.</summary>
    public static string? GetGenerationId(this ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return update.AdditionalProperties?.TryGetValue(FeedbackChatClient.GenerationIdKey, out var id) == true ? id as string : null;
    }
}
