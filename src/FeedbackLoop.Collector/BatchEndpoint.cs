using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using FeedbackLoop.Collector.Keys;
using Microsoft.AspNetCore.Http;

namespace FeedbackLoop.Collector;

/// <summary>
/// <c>POST /v1/batch</c>: the key first (nothing is read for a stranger), then type and encoding, the body within its
/// limits, one pass over the array, each event judged alone, and the answer only after Kafka acknowledged the batch.
/// Every refusal is counted by its code; nothing from the request reaches a log.
/// </summary>
internal sealed class BatchEndpoint(CollectorOptions options, KeyRing keys, InFlightBytes inFlight, KafkaDelivery delivery, CollectorMetrics metrics, TimeProvider time)
{
    public const string Path = "/v1/batch";

    // The answer is JSON for a program, never HTML: quotes and angle brackets in the messages need no escaping.
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var key = keys.Check(request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0] : null);
        if (key.AppId is not { } app)
        {
            await RefuseAsync(context, key.Refusal!).ConfigureAwait(false);
            return;
        }
        if (!IsJson(request.ContentType))
        {
            await RefuseAsync(context, Refusals.UnsupportedContentType).ConfigureAwait(false);
            return;
        }
        if (Encoding(request.Headers.ContentEncoding) is not { } gzip)
        {
            await RefuseAsync(context, Refusals.UnsupportedEncoding).ConfigureAwait(false);
            return;
        }
        if (request.ContentLength > options.MaxBodyBytes)
        {
            await RefuseAsync(context, Refusals.BodyTooLarge).ConfigureAwait(false);
            return;
        }

        var (wire, refusal) = await RequestBody.ReadAsync(request, options.MaxBodyBytes, inFlight, context.RequestAborted).ConfigureAwait(false);
        if (wire is null)
        {
            await RefuseAsync(context, refusal!).ConfigureAwait(false);
            return;
        }
        var body = wire;
        try
        {
            if (gzip)
            {
                (body, refusal) = await wire.GunzipAsync(options.MaxDecompressedBytes, context.RequestAborted).ConfigureAwait(false);
                wire.Dispose();
                if (body is null)
                {
                    await RefuseAsync(context, refusal!).ConfigureAwait(false);
                    return;
                }
            }
            await HandleBatchAsync(context, body, gzip, app).ConfigureAwait(false);
        }
        finally
        {
            body?.Dispose();
            wire.Dispose();
        }
    }

    private async Task HandleBatchAsync(HttpContext context, RequestBody body, bool gzip, string app)
    {
        var now = time.GetUtcNow();
        var scanned = BatchSplitter.TryScan(body.Span, options);
        var (accepted, rejected) = scanned is null ? ([], []) : BatchValidator.Judge(body.Span, scanned, app, now, options.EventTime);
        if (scanned is null || rejected.Count > 0)
        {
            // The scan gave up, or an element was refused (perhaps before the parser read all of it): the JSON reader
            // decides whether the body is one well-formed array, exactly as if the scan had never run.
            var (elements, refusal) = BatchSplitter.Split(body.Span, options);
            if (elements is null)
            {
                // A gzip body cut short inflates to the start of its JSON: the fault is the gzip, not the JSON.
                if (gzip && refusal == Refusals.NotJson && !body.MatchesGzipTrailer()) refusal = Refusals.CorruptGzip;
                await RefuseAsync(context, refusal!).ConfigureAwait(false);
                return;
            }
            if (scanned is null || !elements.SequenceEqual(scanned)) (accepted, rejected) = BatchValidator.Judge(body.Span, elements, app, now, options.EventTime);
        }
        // The events are copied into their Kafka records before the first await, so the body's buffer goes back to the
        // pool with the answer.
        if (!await delivery.SendAsync(body.Memory, accepted, rejected).ConfigureAwait(false))
        {
            await RefuseAsync(context, Refusals.KafkaUnavailable).ConfigureAwait(false);
            return;
        }
        metrics.Answered(accepted.Count);
        foreach (var r in rejected) metrics.Rejected(r.Tag);
        await AnswerAsync(context, accepted.Count, rejected).ConfigureAwait(false);
    }

    private static async Task AnswerAsync(HttpContext context, int accepted, List<RejectedEvent> rejected)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        WriteAnswer(context.Response.BodyWriter, accepted, rejected);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static void WriteAnswer(System.Buffers.IBufferWriter<byte> output, int accepted, List<RejectedEvent> rejected)
    {
        using var json = new Utf8JsonWriter(output, Relaxed);
        json.WriteStartObject();
        json.WriteNumber("accepted"u8, accepted);
        json.WriteStartArray("rejected"u8);
        foreach (var r in rejected)
        {
            json.WriteStartObject();
            json.WriteNumber("index"u8, r.Index);
            if (r.EventId is { } id) json.WriteString("event_id"u8, id);
            else json.WriteNull("event_id"u8);
            json.WriteString("field"u8, r.Field);
            json.WriteString("reason"u8, r.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private async Task RefuseAsync(HttpContext context, string reason)
    {
        metrics.Refused(reason);
        var response = context.Response;
        if (response.HasStarted) return;
        var status = Refusals.StatusOf(reason);
        response.StatusCode = status;
        response.ContentType = "application/json";
        if (status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
        {
            var wait = status == StatusCodes.Status429TooManyRequests ? options.RetryAfterBusy : options.RetryAfterUnavailable;
            response.Headers.RetryAfter = ((long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        if (status == StatusCodes.Status401Unauthorized) response.Headers.WWWAuthenticate = "Bearer";
        using (var json = new Utf8JsonWriter(response.BodyWriter, Relaxed))
        {
            json.WriteStartObject();
            json.WriteString("error"u8, reason);
            json.WriteString("message"u8, Refusals.Explain(reason, options));
            json.WriteEndObject();
        }
        try
        {
            await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client is gone (a body that broke off, a slow client cut): the refusal is counted all the same.
        }
    }

    /// <summary><c>application/json</c>, with no charset or UTF-8.</summary>
    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && string.Equals(media.MediaType, "application/json", StringComparison.OrdinalIgnoreCase)
        && (media.CharSet is null || string.Equals(media.CharSet.Trim('"'), "utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether the body is gzip (true) or plain (false); null for any other or several encodings.</summary>
    private static bool? Encoding(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count == 0) return false;
        if (values.Count > 1) return null;
        var value = values[0]?.Trim();
        if (string.IsNullOrEmpty(value) || string.Equals(value, "identity", StringComparison.OrdinalIgnoreCase)) return false;
        return string.Equals(value, "gzip", StringComparison.OrdinalIgnoreCase) ? true : null;
    }
}
