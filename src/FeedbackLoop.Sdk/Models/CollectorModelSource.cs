using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace FeedbackLoop.Sdk.Models;

/// <summary>
/// Fetches a session's answer from the collector's <c>GET /v1/apps/{app}/model?session_id=…</c> with the app's write
/// key, sending the held ETag as <c>If-None-Match</c> (a 304 costs no body). Every failure is an outcome, never an
/// exception: the resolver keeps serving what it has.
/// </summary>
public sealed class CollectorModelSource : IModelSource
{
    private readonly HttpClient _http;
    private readonly Uri _collector;
    private readonly string _appId;
    private readonly string _writeKey;
    private readonly TimeSpan _timeout;

    /// <summary>A source on <paramref name="http"/> (its handler's connection pool is reused; the resolver never disposes it).</summary>
    /// <param name="http">The HTTP client.</param>
    /// <param name="collector">The collector's base address.</param>
    /// <param name="appId">The app.</param>
    /// <param name="writeKey">The app's write key.</param>
    /// <param name="timeout">The longest one fetch may take (it runs in the background; callers never wait for it).</param>
    public CollectorModelSource(HttpClient http, Uri collector, string appId, string writeKey, TimeSpan timeout)
    {
        _http = http ?? throw new ArgumentNullException(nameof(http));
        _collector = collector ?? throw new ArgumentNullException(nameof(collector));
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentException.ThrowIfNullOrEmpty(writeKey);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        _appId = appId;
        _writeKey = writeKey;
        _timeout = timeout;
    }

    /// <inheritdoc />
    public async Task<ModelFetch> FetchAsync(string sessionId, string? etag, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        var url = new Uri(_collector, $"/v1/apps/{Uri.EscapeDataString(_appId)}/model?session_id={Uri.EscapeDataString(sessionId)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _writeKey);
        if (etag is not null && EntityTagHeaderValue.TryParse(etag, out var tag)) request.Headers.IfNoneMatch.Add(tag);
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotModified) return new ModelFetch(ModelFetchOutcome.NotModified, null, etag);
            if (response.StatusCode == HttpStatusCode.NotFound) return new ModelFetch(ModelFetchOutcome.NoModel, null, null);
            if (response.StatusCode != HttpStatusCode.OK) return new ModelFetch(ModelFetchOutcome.Failed, null, null);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            return Parse(body) is { } choice
                ? new ModelFetch(ModelFetchOutcome.Answer, choice, response.Headers.ETag?.Tag)
                : new ModelFetch(ModelFetchOutcome.Failed, null, null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new ModelFetch(ModelFetchOutcome.Failed, null, null);
        }
    }

    private static ModelChoice? Parse(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            return root.TryGetProperty("version", out var version) && version.GetString() is { Length: > 0 } v
                && root.TryGetProperty("artifact", out var artifact) && artifact.GetString() is { } a
                && root.TryGetProperty("variant", out var variant) && variant.GetString() is "stable" or "canary"
                ? new ModelChoice(v, a, variant.GetString(), root.TryGetProperty("rollout_id", out var rollout) ? rollout.GetString() : null)
                : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
