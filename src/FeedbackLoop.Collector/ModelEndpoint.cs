using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Core.Rollouts;
using Microsoft.AspNetCore.Http;

namespace FeedbackLoop.Collector;

/// <summary>
/// <c>GET /v1/apps/{app}/model?session_id=…</c>: which model the session gets (<see cref="ModelResolver"/>), for the app
/// whose write key the request carries. The answer is <c>{"version","artifact","variant","rollout_id"}</c> with a strong
/// ETag over its bytes, so a client that polls with <c>If-None-Match</c> gets a bodiless 304 while nothing changed. The
/// app's serving state is read from the store at most once per <see cref="CollectorOptions.ServingCacheFor"/> per app.
/// </summary>
internal sealed class ModelEndpoint(CollectorOptions options, KeyRing keys, IServingState? serving, CollectorMetrics metrics, TimeProvider time)
{
    public const string Pattern = "/v1/apps/{app}/model";

    /// <summary>The longest session id answered (the event contract's bound on ids).</summary>
    public const int MaxSessionIdLength = 128;

    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ConcurrentDictionary<string, (AppServing State, DateTimeOffset ReadAt)> _cache = new(StringComparer.Ordinal);

    public static string PathOf(string app) => $"/v1/apps/{Uri.EscapeDataString(app)}/model";

    public async Task HandleAsync(HttpContext context, string app)
    {
        var request = context.Request;
        var key = keys.Check(request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0] : null);
        if (key.AppId is not { } keyApp)
        {
            await RefuseAsync(context, key.Refusal!).ConfigureAwait(false);
            return;
        }

        if (!string.Equals(keyApp, app, StringComparison.Ordinal))
        {
            await RefuseAsync(context, Refusals.OtherApp).ConfigureAwait(false);
            return;
        }

        var session = request.Query["session_id"];
        if (session.Count != 1 || string.IsNullOrEmpty(session[0]) || session[0]!.Length > MaxSessionIdLength)
        {
            await RefuseAsync(context, Refusals.MissingSession).ConfigureAwait(false);
            return;
        }

        if (Read(app) is not { } state)
        {
            await RefuseAsync(context, Refusals.ServingUnavailable).ConfigureAwait(false);
            return;
        }

        var assignment = ModelResolver.Resolve(state, session[0]!);
        var body = Answer(assignment);
        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(body))[..32]}\"";
        var response = context.Response;
        response.Headers.ETag = etag;
        response.Headers.CacheControl = "no-cache";
        if (request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag)))
        {
            metrics.ModelAnswered("not_modified");
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        metrics.ModelAnswered(assignment is null ? "no_model" : assignment.VariantText);
        response.StatusCode = assignment is null ? StatusCodes.Status404NotFound : StatusCodes.Status200OK;
        response.ContentType = "application/json";
        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The app's state, from the cache while fresh; null when there is no store or it cannot be read now.</summary>
    private AppServing? Read(string app)
    {
        if (serving is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (_cache.TryGetValue(app, out var cached) && now - cached.ReadAt < options.ServingCacheFor)
        {
            return cached.State;
        }

        try
        {
            var state = serving.Serving(app);
            _cache[app] = (state, now);
            return state;
        }
        catch (Exception e) when (e is DbException or IOException or InvalidDataException)
        {
            // The store is busy or gone: a client keeps its last answer (it never blocks on us); count it, say 503.
            metrics.ServingReadFailed();
            return null;
        }
    }

    private static byte[] Answer(ModelAssignment? assignment)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Relaxed))
        {
            writer.WriteStartObject();
            if (assignment is null)
            {
                writer.WriteString("error", "no_model");
                writer.WriteString("message", "the app has no promoted model yet");
            }
            else
            {
                writer.WriteString("version", assignment.Version);
                writer.WriteString("artifact", assignment.Artifact);
                writer.WriteString("variant", assignment.VariantText);
                if (assignment.RolloutId is null) writer.WriteNull("rollout_id");
                else writer.WriteString("rollout_id", assignment.RolloutId);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task RefuseAsync(HttpContext context, string reason)
    {
        metrics.Refused(reason);
        var response = context.Response;
        var status = Refusals.StatusOf(reason);
        response.StatusCode = status;
        response.ContentType = "application/json";
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            response.Headers.RetryAfter = ((long)Math.Ceiling(options.RetryAfterUnavailable.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = reason, ["message"] = Refusals.Explain(reason, options) });
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(body), context.RequestAborted).ConfigureAwait(false);
    }
}
