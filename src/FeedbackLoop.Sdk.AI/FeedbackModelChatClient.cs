using FeedbackLoop.Sdk.Models;
using Microsoft.Extensions.AI;

namespace FeedbackLoop.Sdk.AI;

/// <summary>
/// An <see cref="IChatClient"/> middleware that serves each session the model FeedbackLoop chose for it: it sets
/// <see cref="ChatOptions.ModelId"/> to the resolver's artifact for the call's session (<see cref="FeedbackChatClient.SessionIdKey"/>,
/// else the current <see cref="FeedbackSession"/>, else <see cref="ChatOptions.ConversationId"/>) and passes the version and variant on to <see cref="FeedbackChatClient"/>,
/// which reports them in <c>generation.shown</c>, so engagement is counted per model version and variant. Put it before
/// <c>UseFeedbackLoop()</c> in the pipeline. It never waits on the network (<see cref="FeedbackModelResolver"/>).
/// </summary>
public sealed class FeedbackModelChatClient(IChatClient innerClient, FeedbackModelResolver resolver) : DelegatingChatClient(innerClient)
{
    /// <summary>Where this middleware leaves the served version for <see cref="FeedbackChatClient"/> (<see cref="ChatOptions.AdditionalProperties"/>).</summary>
    public const string ModelVersionKey = "feedbackloop.model_version";

    /// <summary>Where it leaves the variant (<c>stable</c>, <c>canary</c>; absent for a stand-in answer).</summary>
    public const string VariantKey = "feedbackloop.variant";

    private readonly FeedbackModelResolver _resolver = resolver ?? throw new ArgumentNullException(nameof(resolver));

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(messages, Choose(options), cancellationToken);

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(messages, Choose(options), cancellationToken);

    /// <summary>A copy of the call's options with the session's model; a call without a session is left as it is (nothing to be sticky to).</summary>
    private ChatOptions? Choose(ChatOptions? options)
    {
        var session = options?.AdditionalProperties?.TryGetValue(FeedbackChatClient.SessionIdKey, out var id) == true && id?.ToString() is { Length: > 0 } s
            ? s
            : FeedbackSession.Current?.SessionId ?? options?.ConversationId;
        if (session is null)
        {
            return options;
        }

        var choice = _resolver.Resolve(session);
        var chosen = options?.Clone() ?? new ChatOptions();
        chosen.ModelId = choice.Artifact;
        chosen.AdditionalProperties = chosen.AdditionalProperties is null ? [] : new AdditionalPropertiesDictionary(chosen.AdditionalProperties);
        chosen.AdditionalProperties[ModelVersionKey] = choice.Version;
        if (choice.Variant is not null) chosen.AdditionalProperties[VariantKey] = choice.Variant;
        return chosen;
    }
}

/// <summary>Adds <see cref="FeedbackModelChatClient"/> to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class FeedbackModelChatClientBuilderExtensions
{
    /// <summary>Serves each session the model FeedbackLoop chose for it (sets <see cref="ChatOptions.ModelId"/> per call); put it before <c>UseFeedbackLoop()</c>.</summary>
    public static ChatClientBuilder UseFeedbackLoopModel(this ChatClientBuilder builder, FeedbackModelResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(resolver);
        return builder.Use(inner => new FeedbackModelChatClient(inner, resolver));
    }
}
