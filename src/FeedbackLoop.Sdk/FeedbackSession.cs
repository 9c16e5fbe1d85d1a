namespace FeedbackLoop.Sdk;

/// <summary>
/// The session (and user) the current request or conversation belongs to, held for the async flow that began it, so the
/// chat middleware reports under it without ids on every call:
/// <code>using (feedback.BeginSession(sessionId, userId)) { var response = await chat.GetResponseAsync(...); }</code>
/// Ids passed on a call (<c>ChatOptions.AdditionalProperties</c>) win over it. The record calls of
/// <see cref="FeedbackClient"/> (<c>Thumb</c>, <c>Copied</c>, ...) take their ids as arguments and never read it, so
/// they stay allocation- and lookup-free.
/// </summary>
public sealed class FeedbackSession
{
    private static readonly AsyncLocal<FeedbackSession?> Ambient = new();

    private FeedbackSession(string sessionId, string? userId)
    {
        SessionId = sessionId;
        UserId = userId;
    }

    /// <summary>The scope of the current async flow; null outside any.</summary>
    public static FeedbackSession? Current => Ambient.Value;

    /// <summary>The session id events are reported under.</summary>
    public string SessionId { get; }

    /// <summary>The user id, or null to leave it to the call or the middleware's default.</summary>
    public string? UserId { get; }

    /// <summary>
    /// Makes <paramref name="sessionId"/> (and <paramref name="userId"/>) current for this async flow until the returned
    /// scope is disposed, which restores the one before it. Scopes nest.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="sessionId"/> is null, empty or white space.</exception>
    public static IDisposable Begin(string sessionId, string? userId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        var scope = new Scope(Ambient.Value);
        Ambient.Value = new FeedbackSession(sessionId, userId);
        return scope;
    }

    private sealed class Scope(FeedbackSession? previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            Ambient.Value = previous;
        }
    }
}

/// <summary>Begins a <see cref="FeedbackSession"/> from the client apps already hold.</summary>
public static class FeedbackSessionExtensions
{
    /// <summary>See <see cref="FeedbackSession.Begin"/>; the scope is the same whichever client begins it.</summary>
    public static IDisposable BeginSession(this IFeedbackClient feedback, string sessionId, string? userId = null)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        return FeedbackSession.Begin(sessionId, userId);
    }
}
