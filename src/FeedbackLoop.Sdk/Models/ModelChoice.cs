namespace FeedbackLoop.Sdk.Models;

/// <summary>The model a session is served, as the collector's <c>GET /v1/apps/{app}/model</c> answers it.</summary>
/// <param name="Version">The model version (<c>generation.shown</c>'s <c>model_version</c>).</param>
/// <param name="Artifact">The artifact: what the app passes to its provider as the model id.</param>
/// <param name="Variant"><c>stable</c> or <c>canary</c>; null when the session has no assignment yet (the fallback, or the app's last answer while this session's is fetched).</param>
/// <param name="RolloutId">The open rollout the session is assigned in; null when none.</param>
public sealed record ModelChoice(string Version, string Artifact, string? Variant, string? RolloutId)
{
    /// <summary>True for an assigned answer; false for a stand-in served while the session's own answer is fetched.</summary>
    public bool Assigned => Variant is not null;
}

/// <summary>What one fetch of a session's answer brought.</summary>
public enum ModelFetchOutcome
{
    /// <summary>A new answer (200).</summary>
    Answer,

    /// <summary>The answer the caller holds is current (304).</summary>
    NotModified,

    /// <summary>The app has no model yet (404 no_model).</summary>
    NoModel,

    /// <summary>The collector could not be reached or refused (network error, timeout, 5xx, 401/403).</summary>
    Failed,
}

/// <summary>The result of one fetch.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Choice">The new answer, for <see cref="ModelFetchOutcome.Answer"/>.</param>
/// <param name="ETag">The answer's ETag, to send as <c>If-None-Match</c> next time.</param>
public sealed record ModelFetch(ModelFetchOutcome Outcome, ModelChoice? Choice, string? ETag);

/// <summary>Where the resolver gets a session's answer: the collector over HTTP, or the loop itself in embedded mode.</summary>
public interface IModelSource
{
    /// <summary>Fetches <paramref name="sessionId"/>'s answer; <paramref name="etag"/> is the one held, if any. Never throws for the network: that is <see cref="ModelFetchOutcome.Failed"/>.</summary>
    Task<ModelFetch> FetchAsync(string sessionId, string? etag, CancellationToken cancellationToken);
}

/// <summary>
/// Embedded mode: the answer computed in this process (the host passes the loop's resolver over its store), with the
/// same assignment the collector would give.
/// </summary>
public sealed class InProcessModelSource(Func<string, ModelChoice?> resolve) : IModelSource
{
    /// <inheritdoc />
    public Task<ModelFetch> FetchAsync(string sessionId, string? etag, CancellationToken cancellationToken)
    {
        var choice = resolve(sessionId);
        return Task.FromResult(choice is null ? new ModelFetch(ModelFetchOutcome.NoModel, null, null) : new ModelFetch(ModelFetchOutcome.Answer, choice, null));
    }
}
