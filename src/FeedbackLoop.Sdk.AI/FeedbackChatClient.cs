using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Contract = FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.AI;

/// <summary>
/// An <see cref="IChatClient"/> middleware that reports every response as <c>generation.shown</c> (input
/// messages, output text, model, latency) and hands the app the event's <c>generation_id</c> in the
/// response's <see cref="ChatResponse.AdditionalProperties"/> under <see cref="GenerationIdKey"/> — for
/// streaming, on every update — so the app can later send thumbs, edits or copies for it. Reporting
/// costs one queue write; it never throws into the call and never changes what the inner client returns.
/// </summary>
public sealed class FeedbackChatClient : DelegatingChatClient
{
    /// <summary>The key of the generation id in <c>AdditionalProperties</c>.</summary>
    public const string GenerationIdKey = "feedbackloop.generation_id";

    /// <summary>Where the app puts the session id on a call (<see cref="ChatOptions.AdditionalProperties"/>).</summary>
    public const string SessionIdKey = "feedbackloop.session_id";

    /// <summary>Where the app puts the user id on a call (<see cref="ChatOptions.AdditionalProperties"/>).</summary>
    public const string UserIdKey = "feedbackloop.user_id";

    /// <summary>
    /// Where the app names the candidate set a call's answer belongs to, when several answers are shown side by side
    /// (<see cref="ChatOptions.AdditionalProperties"/>; <see cref="FeedbackChatOptionsExtensions.AsCandidate"/> sets it).
    /// The answer is reported with this <c>candidate_set_id</c>; the user's pick is then
    /// <see cref="IFeedbackClient.ComparisonChosen"/> with the same id and the chosen answer's generation id.
    /// </summary>
    public const string CandidateSetIdKey = "feedbackloop.candidate_set_id";

    /// <summary>Where the app puts the answer's place among the candidates shown (0 = first; an <see cref="int"/>).</summary>
    public const string PositionKey = "feedbackloop.position";

    private readonly IFeedbackClient _feedback;
    private readonly FeedbackChatClientOptions _options;

    /// <summary>Wraps <paramref name="innerClient"/>, reporting through <paramref name="feedback"/>.</summary>
    public FeedbackChatClient(IChatClient innerClient, IFeedbackClient feedback, FeedbackChatClientOptions? options = null)
        : base(innerClient)
    {
        _feedback = feedback ?? throw new ArgumentNullException(nameof(feedback));
        _options = options ?? new FeedbackChatClientOptions();
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var started = Stopwatch.GetTimestamp();
        var response = await base.GetResponseAsync(input, options, cancellationToken).ConfigureAwait(false);
        var generationId = NewGenerationId(options);
        (response.AdditionalProperties ??= [])[GenerationIdKey] = generationId;
        Report(input, options, response.Text, response.ModelId, generationId, Stopwatch.GetElapsedTime(started));
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var input = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var started = Stopwatch.GetTimestamp();
        var generationId = NewGenerationId(options);
        var updates = new List<ChatResponseUpdate>();
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(input, options, cancellationToken).ConfigureAwait(false))
            {
                (update.AdditionalProperties ??= [])[GenerationIdKey] = generationId;
                updates.Add(update);
                yield return update;
            }
        }
        finally
        {
            // Also when the app stops reading early: what was streamed is what the user saw.
            if (updates.Count > 0)
            {
                var response = updates.ToChatResponse();
                Report(input, options, response.Text, response.ModelId, generationId, Stopwatch.GetElapsedTime(started));
            }
        }
    }

    private static string NewGenerationId(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(GenerationIdKey, out var given) == true && given is string { Length: > 0 } id
            ? id
            : GenerationIds.New();

    private void Report(IReadOnlyList<ChatMessage> input, ChatOptions? options, string output, string? responseModel, string generationId, TimeSpan latency)
    {
        // The call's own ids first, then the ambient scope, then the conversation; the generation id only as a last
        // resort, counted and warned about, since feedback under the app's session cannot join it.
        var ambient = FeedbackSession.Current;
        var sessionId = Property(options, SessionIdKey) ?? ambient?.SessionId ?? options?.ConversationId;
        if (sessionId is null)
        {
            sessionId = generationId;
            (_feedback as FeedbackClient)?.NoteSessionDefaulted();
        }
        var userId = Property(options, UserIdKey) ?? ambient?.UserId ?? _options.DefaultUserId;
        // A version and variant chosen by UseFeedbackLoopModel come first: engagement is measured per served model.
        var model = Property(options, FeedbackModelChatClient.ModelVersionKey) ?? _options.ModelVersion ?? responseModel ?? options?.ModelId ?? "unknown";
        _feedback.Shown(sessionId, userId, model, ToContract(input), output, generationId,
            variant: Property(options, FeedbackModelChatClient.VariantKey) ?? _options.Variant,
            candidateSetId: Property(options, CandidateSetIdKey), position: Position(options),
            promptVersion: _options.PromptVersion, latencyMs: (long)latency.TotalMilliseconds);
    }

    // A position the app wrote as a number of another type (a long from JSON, say) still counts; anything else is left out.
    private static int? Position(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(PositionKey, out var value) == true
            ? value switch
            {
                int i when i >= 0 => i,
                long l when l is >= 0 and <= int.MaxValue => (int)l,
                _ => null,
            }
            : null;

    private static string? Property(ChatOptions? options, string key) =>
        options?.AdditionalProperties?.TryGetValue(key, out var value) == true ? value?.ToString() : null;

    private static Contract.ConversationTurn[] ToContract(IReadOnlyList<ChatMessage> messages)
    {
        var result = new Contract.ConversationTurn[messages.Count];
        for (var i = 0; i < messages.Count; i++) result[i] = new Contract.ConversationTurn(RoleOf(messages[i].Role), messages[i].Text ?? "");
        return result;
    }

    // The contract knows four roles (docs/contract/events.md, "generation.shown"); a provider-specific role is closest to what the user side said.
    private static string RoleOf(ChatRole role) =>
        role == ChatRole.System ? "system" : role == ChatRole.Assistant ? "assistant" : role == ChatRole.Tool ? "tool" : "user";
}

/// <summary>Settings of <see cref="FeedbackChatClient"/>.</summary>
public sealed class FeedbackChatClientOptions
{
    /// <summary>The <c>model_version</c> to report; by default the response's model id (then the request's).</summary>
    public string? ModelVersion { get; set; }

    /// <summary>The <c>prompt_version</c> to report, if the app versions its prompts.</summary>
    public string? PromptVersion { get; set; }

    /// <summary>The experiment <c>variant</c> to report, if any.</summary>
    public string? Variant { get; set; }

    /// <summary>The <c>user_id</c> when a call names none (<see cref="FeedbackChatClient.UserIdKey"/>).</summary>
    public string DefaultUserId { get; set; } = "anonymous";
}
