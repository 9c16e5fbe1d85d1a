using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk;

/// <summary>
/// What an app calls to report what users did with model outputs: <see cref="FeedbackClient"/> sends the events,
/// <see cref="NullFeedbackClient"/> drops them (for the app's own unit tests, and what dependency injection hands out
/// while <c>FeedbackLoop:Enabled</c> is false). Depend on this interface, so code that reports feedback can be tested
/// without a transport. No call blocks or throws for delivery problems.
/// </summary>
public interface IFeedbackClient
{
    /// <summary>Reports that a model output was shown; returns its generation id (a new UUIDv7 unless given).</summary>
    string Shown(
        string sessionId, string userId, string modelVersion, IReadOnlyList<ConversationTurn> input, string output,
        string? generationId = null, string? variant = null, string? candidateSetId = null, int? position = null,
        string? promptVersion = null, long? latencyMs = null);

    /// <summary>Thumb up or down. False when the event was not queued.</summary>
    bool Thumb(string sessionId, string userId, string generationId, ThumbValue value);

    /// <summary>A 1–5 rating. False when the event was not queued.</summary>
    bool Rating(string sessionId, string userId, string generationId, int score);

    /// <summary>The user asked for another output instead of <paramref name="generationId"/>. False when the event was not queued.</summary>
    bool Regenerated(string sessionId, string userId, string generationId, string replacementGenerationId);

    /// <summary>The user edited the output into <paramref name="editedOutput"/>. False when the event was not queued.</summary>
    bool Edited(string sessionId, string userId, string generationId, string editedOutput);

    /// <summary>The user copied the output. False when the event was not queued.</summary>
    bool Copied(string sessionId, string userId, string generationId);

    /// <summary>A suggestion was accepted. False when the event was not queued.</summary>
    bool Accepted(string sessionId, string userId, string generationId);

    /// <summary>A suggestion was dismissed. False when the event was not queued.</summary>
    bool Rejected(string sessionId, string userId, string generationId);

    /// <summary>The user chose <paramref name="chosenGenerationId"/> among the candidates shown side by side. False when the event was not queued.</summary>
    bool ComparisonChosen(string sessionId, string userId, string candidateSetId, string chosenGenerationId);

    /// <summary>The output was visible for <paramref name="visibleMs"/> milliseconds. False when the event was not queued.</summary>
    bool Dwell(string sessionId, string userId, string generationId, long visibleMs);

    /// <summary>The session is over; the pipeline resolves it now rather than after 30 minutes. False when the event was not queued.</summary>
    bool SessionEnded(string sessionId, string userId);

    /// <summary>Queues an event of any type with a new event id and the current time. False when it was not queued.</summary>
    bool Track(string sessionId, string userId, EventData data);

    /// <summary>Queues a complete event as it is (its id and time are kept). False when it was not queued.</summary>
    bool Track(FeedbackEvent evt);

    /// <summary>
    /// Sends what is queued now and waits until it was delivered (or spooled), or the timeout passed. True only when
    /// every event queued before the call was delivered or spooled.
    /// </summary>
    Task<bool> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default);
}

/// <summary>
/// An <see cref="IFeedbackClient"/> that sends nothing: every call returns at once, queues nothing and reports
/// false (<see cref="Shown"/> still returns a generation id, so the app's flow is the same). Use it in the app's own
/// unit tests; dependency injection registers it when <c>FeedbackLoop:Enabled</c> is false.
/// </summary>
public sealed class NullFeedbackClient : IFeedbackClient
{
    /// <summary>The one instance (it holds no state).</summary>
    public static NullFeedbackClient Instance { get; } = new();

    private NullFeedbackClient()
    {
    }

    /// <inheritdoc />
    public string Shown(
        string sessionId, string userId, string modelVersion, IReadOnlyList<ConversationTurn> input, string output,
        string? generationId = null, string? variant = null, string? candidateSetId = null, int? position = null,
        string? promptVersion = null, long? latencyMs = null) =>
        generationId ?? GenerationIds.New();

    /// <inheritdoc />
    public bool Thumb(string sessionId, string userId, string generationId, ThumbValue value) => false;

    /// <inheritdoc />
    public bool Rating(string sessionId, string userId, string generationId, int score) => false;

    /// <inheritdoc />
    public bool Regenerated(string sessionId, string userId, string generationId, string replacementGenerationId) => false;

    /// <inheritdoc />
    public bool Edited(string sessionId, string userId, string generationId, string editedOutput) => false;

    /// <inheritdoc />
    public bool Copied(string sessionId, string userId, string generationId) => false;

    /// <inheritdoc />
    public bool Accepted(string sessionId, string userId, string generationId) => false;

    /// <inheritdoc />
    public bool Rejected(string sessionId, string userId, string generationId) => false;

    /// <inheritdoc />
    public bool ComparisonChosen(string sessionId, string userId, string candidateSetId, string chosenGenerationId) => false;

    /// <inheritdoc />
    public bool Dwell(string sessionId, string userId, string generationId, long visibleMs) => false;

    /// <inheritdoc />
    public bool SessionEnded(string sessionId, string userId) => false;

    /// <inheritdoc />
    public bool Track(string sessionId, string userId, EventData data) => false;

    /// <inheritdoc />
    public bool Track(FeedbackEvent evt) => false;

    /// <summary>Nothing is ever queued, so nothing is left undelivered: true at once.</summary>
    public Task<bool> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => Task.FromResult(true);
}
