using System.IO.Compression;
using System.Net.Http.Headers;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>
/// Sends batches to a FeedbackLoop collector over HTTP: a POST of a JSON array of the events per request,
/// gzip-compressed by default, with the write key as a bearer token. Batches over 500 KiB are split into
/// several requests, posted to <see cref="HttpTransportOptions.DefaultPath"/> unless the endpoint names a path. Returns
/// when every event was accepted or refused for good (HTTP 413, other 4xx, 501, 505, or one by one in a 200's
/// <c>rejected</c> list); throws a retryable <see cref="FeedbackTransportException"/> for timeouts, network errors, 408,
/// 429 and other 5xx, listing the events still undelivered. It does not retry itself: the client's retry
/// policy does.
/// </summary>
public sealed partial class HttpFeedbackTransport : IFeedbackTransport
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("feedbackloop-sdk", SdkVersion());

    private readonly HttpTransportOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private int _disposed;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">Where to send and with which key.</param>
    /// <param name="httpClient">
    /// An HttpClient to send with, which stays the caller's (it is not disposed here); its own
    /// <see cref="HttpClient.Timeout"/> applies on top of <see cref="HttpTransportOptions.RequestTimeout"/>.
    /// Without one, the transport creates and owns a client that does not follow redirects.
    /// </param>
    /// <param name="logger">Receives a warning when the collector refuses events; never event content or the key.</param>
    public HttpFeedbackTransport(HttpTransportOptions options, HttpClient? httpClient = null, ILogger<HttpFeedbackTransport>? logger = null)
        : this(options, httpClient, logger, TimeProvider.System)
    {
    }

    internal HttpFeedbackTransport(HttpTransportOptions options, HttpClient? httpClient, ILogger? logger, TimeProvider time)
    {
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = time;
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler
        {
            // A redirected POST can turn into a GET; a moved collector is a configuration error to surface.
            AllowAutoRedirect = false,
            // Long-lived clients must notice DNS changes of the collector.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            // RequestTimeout is applied per request below, so that it is told apart from the caller's cancellation.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (HttpTransportOptions.LeavesMachineInClear(options.Endpoint))
        {
            LogInsecureHttp(_logger);
        }
    }

    /// <inheritdoc />
    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        var plan = CollectorBatches.Plan(batch);
        if (plan.Unsendable.Count > 0) LogUnsendable(_logger, plan.Unsendable.Count);

        var delivered = new bool[batch.Count];
        var deliveredCount = 0;
        var refusedCount = plan.Unsendable.Count;
        foreach (var positions in plan.Requests)
        {
            var answer = await PostAsync(batch, positions, delivered, deliveredCount, cancellationToken).ConfigureAwait(false);
            switch (CollectorResponse.Classify(answer.Status))
            {
                case CollectorVerdict.Delivered:
                    for (var i = 0; i < positions.Length; i++)
                    {
                        if (answer.RejectedIndexes.Contains(i)) continue;
                        delivered[positions[i]] = true;
                        deliveredCount++;
                    }
                    refusedCount += answer.RejectedIndexes.Count;
                    if (answer.RejectedIndexes.Count > 0) LogRejectedEvents(_logger, answer.RejectedIndexes.Count, positions.Length);
                    break;
                case CollectorVerdict.Refused:
                    refusedCount += positions.Length;
                    LogRefused(_logger, positions.Length, answer.Status);
                    break;
                default:
                    // Stop at the first transient fault: the collector is struggling, and the retry policy
                    // will wait (Retry-After included) before sending the rest.
                    throw Undelivered(
                        $"The collector answered HTTP {answer.Status} to a request of {positions.Length} events.",
                        delivered, deliveredCount, answer.RetryAfter, answer.Status, innerException: null);
            }
        }
        return new SendResult(deliveredCount, Rejected: refusedCount);
    }

    /// <summary>Releases the HttpClient if this transport created it.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsHttp) _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<CollectorAnswer> PostAsync(
        IReadOnlyList<SerializedEvent> batch, int[] positions, bool[] delivered, int deliveredCount, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.BatchUrl) { Content = Body(batch, positions) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.WriteKey);
        request.Headers.UserAgent.Add(UserAgent);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            // Only a 2xx body matters: it names the events refused one by one, which are final (never resent).
            var rejected = CollectorResponse.Classify(status) == CollectorVerdict.Delivered
                ? CollectorResponse.RejectedIndexes(await ReadAnswerAsync(response, timeout.Token).ConfigureAwait(false), positions.Length)
                : CollectorResponse.NoneRejected;
            return new CollectorAnswer(status, CollectorResponse.RetryAfter(response.Headers.RetryAfter, _time.GetUtcNow()), rejected);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            // Our RequestTimeout, or the Timeout of a caller's HttpClient.
            throw Undelivered($"The request to the collector timed out (request timeout {_options.RequestTimeout.TotalSeconds:0.###} s).",
                delivered, deliveredCount, retryAfter: null, status: null, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            // The messages name the host and the socket error, never headers.
            throw Undelivered($"The collector could not be reached: {ex.Message}",
                delivered, deliveredCount, retryAfter: null, status: null, ex);
        }
    }

    /// <summary>The answer's body, at most <see cref="CollectorResponse.MaxAnswerBytes"/>; what is past that is not read.</summary>
    private static async Task<byte[]> ReadAnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while (buffer.Length < CollectorResponse.MaxAnswerBytes && (read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
    }

    private ByteArrayContent Body(IReadOnlyList<SerializedEvent> batch, int[] positions)
    {
        ByteArrayContent content;
        if (_options.Compress)
        {
            // JSON of this kind compresses several-fold, so a quarter of the raw size is a fair first guess.
            var compressed = new MemoryStream(CollectorBatches.BodyLength(batch, positions) / 4);
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                CollectorBatches.WriteBody(gzip, batch, positions);
            }
            content = new ByteArrayContent(compressed.GetBuffer(), 0, (int)compressed.Length);
            content.Headers.ContentEncoding.Add("gzip");
        }
        else
        {
            var raw = new MemoryStream(CollectorBatches.BodyLength(batch, positions));
            CollectorBatches.WriteBody(raw, batch, positions);
            content = new ByteArrayContent(raw.GetBuffer(), 0, (int)raw.Length);
        }
        content.Headers.ContentType = JsonContentType;
        return content;
    }

    // Every position not delivered, refused ones included: the exception has no way to say "refused", and
    // sending a refused event once more only gets it refused (and counted) again, whereas leaving it out
    // would count it as delivered.
    private static FeedbackTransportException Undelivered(
        string message, bool[] delivered, int deliveredCount, TimeSpan? retryAfter, int? status, Exception? innerException)
    {
        List<int>? undelivered = null;
        if (deliveredCount > 0)
        {
            undelivered = new List<int>(delivered.Length - deliveredCount);
            for (var i = 0; i < delivered.Length; i++)
            {
                if (!delivered[i]) undelivered.Add(i);
            }
        }
        return new FeedbackTransportException(message, retryable: true, retryAfter, status, undelivered, innerException);
    }

    private readonly record struct CollectorAnswer(int Status, TimeSpan? RetryAfter, IReadOnlySet<int> RejectedIndexes);

    private static string SdkVersion()
    {
        var assembly = typeof(HttpFeedbackTransport).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "0.0.0";
        // Drop build metadata ("1.2.0+3f2a…"): '+' is not allowed in a User-Agent product version token.
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: the collector refused {Count} events for good with HTTP {Status}; they are not retried")]
    private static partial void LogRefused(ILogger logger, int count, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: the collector refused {Count} of {Sent} events one by one (see its dead-letter topic); they are not retried")]
    private static partial void LogRejectedEvents(ILogger logger, int count, int sent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: {Count} events were not sent: empty or over the 32 KiB event limit")]
    private static partial void LogUnsendable(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "FeedbackLoop: AllowInsecureHttp is set and the collector endpoint is http:// to another machine: the write key and the events cross the network unencrypted")]
    private static partial void LogInsecureHttp(ILogger logger);
}
