using System.Net.Sockets;
using System.Text;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Collector;
using FeedbackLoop.Collector.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// The collector as <c>serve --role collector</c> builds it (<see cref="CollectorServe.Build"/>), started in this process on
/// real Kestrel at 127.0.0.1:0, against a real (embedded) Kafka cluster, with a keys file of its own.
/// </summary>
internal sealed class CollectorUnderTest : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CollectorUnderTest(WebApplication app, Uri url, WriteKeyFile keys)
    {
        _app = app;
        Url = url;
        Keys = keys;
    }

    public Uri Url { get; }

    public Uri BatchUrl => new(Url, BatchEndpoint.Path);

    public WriteKeyFile Keys { get; }

    public InFlightBytes InFlight => _app.Services.GetRequiredService<InFlightBytes>();

    /// <summary>Starts a collector; <paramref name="configure"/> changes its options (topics, limits).</summary>
    /// <param name="bootstrap">The Kafka cluster.</param>
    /// <param name="keysFile">The write keys.</param>
    /// <param name="configure">Changes the options.</param>
    /// <param name="serving">The store the model route reads (null: it answers 503).</param>
    public static async Task<CollectorUnderTest> StartAsync(
        string bootstrap, string keysFile, Func<CollectorOptions, CollectorOptions>? configure = null, Core.Rollouts.IServingState? serving = null)
    {
        var options = new CollectorOptions { BootstrapServers = bootstrap, KeysFile = keysFile };
        var app = CollectorServe.Build(configure?.Invoke(options) ?? options, "http://127.0.0.1:0", serving: serving);
        await app.StartAsync();
        return new CollectorUnderTest(app, new Uri(CollectorServe.ListeningUrl(app)), new WriteKeyFile(keysFile));
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await _app.StopAsync(timeout.Token);
        }
        await _app.DisposeAsync();
    }
}

/// <summary>Events typed by hand as JSON, the way a hostile (or buggy) client writes them.</summary>
internal static class CollectorEvents
{
    /// <summary>A valid <c>feedback.thumb</c>; <paramref name="change"/> edits its JSON text.</summary>
    public static string Thumb(string eventId, string app = "demo", string session = "s1", DateTimeOffset? at = null, Func<string, string>? change = null)
    {
        var json = $$$"""{"event_id":"{{{eventId}}}","type":"feedback.thumb","v":1,"app_id":"{{{app}}}","session_id":"{{{session}}}","user_id":"u1","occurred_at":"{{{(at ?? DateTimeOffset.UtcNow).UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'}}}","data":{"generation_id":"g1","value":"up"}}""";
        return change is null ? json : change(json);
    }

    public static string Batch(params string[] events) => "[" + string.Join(",", events) + "]";
}

/// <summary>
/// HTTP/1.1 over a plain socket, for what HttpClient will not send: a body that stops halfway, a body that trickles in.
/// Returns the status and body of the answer, or status 0 when the server closed without one.
/// </summary>
internal static class RawHttp
{
    public static async Task<(int Status, string Body)> PostAsync(Uri url, string headers, byte[] body, int sendBytes, TimeSpan pausePerByte, bool halfClose, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        using var client = new TcpClient();
        await client.ConnectAsync(url.Host, url.Port, timeout.Token);
        var stream = client.GetStream();
        var head = Encoding.ASCII.GetBytes($"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n{headers}Content-Length: {body.Length}\r\n\r\n");
        await stream.WriteAsync(head, timeout.Token);
        try
        {
            if (pausePerByte == TimeSpan.Zero)
            {
                await stream.WriteAsync(body.AsMemory(0, sendBytes), timeout.Token);
            }
            else
            {
                for (var i = 0; i < sendBytes; i++)
                {
                    await stream.WriteAsync(body.AsMemory(i, 1), timeout.Token);
                    // The pause is the test's subject: a client that sends one byte at a time, slower than the minimum rate.
                    await Task.Delay(pausePerByte, timeout.Token);
                }
            }
            if (halfClose) client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (IOException)
        {
            // The server ended the request while we were still sending: read what it answered.
        }
        return await ReadAnswerAsync(stream, timeout.Token);
    }

    /// <summary>A chunked body (no Content-Length), in chunks of 16 KiB.</summary>
    public static async Task<(int Status, string Body)> PostChunkedAsync(Uri url, string headers, byte[] body, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        using var client = new TcpClient();
        await client.ConnectAsync(url.Host, url.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n{headers}Transfer-Encoding: chunked\r\n\r\n"), timeout.Token);
        try
        {
            for (var at = 0; at < body.Length; at += 16 * 1024)
            {
                var length = Math.Min(16 * 1024, body.Length - at);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{length:x}\r\n"), timeout.Token);
                await stream.WriteAsync(body.AsMemory(at, length), timeout.Token);
                await stream.WriteAsync("\r\n"u8.ToArray(), timeout.Token);
            }
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), timeout.Token);
        }
        catch (IOException)
        {
            // The server ended the request while we were still sending: read what it answered.
        }
        return await ReadAnswerAsync(stream, timeout.Token);
    }

    private static async Task<(int Status, string Body)> ReadAnswerAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, cancellationToken);
        }
        catch (IOException)
        {
            // Reset after the answer: what arrived is kept.
        }
        var text = Encoding.UTF8.GetString(answer.ToArray());
        if (!text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal)) return (0, text);
        var status = int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, split < 0 ? "" : text[(split + 4)..]);
    }
}
