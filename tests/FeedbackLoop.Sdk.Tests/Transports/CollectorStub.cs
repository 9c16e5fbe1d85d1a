using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>What the collector stub answers to one request.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="RetryAfter">A <c>Retry-After</c> header value, if any.</param>
/// <param name="Hang">Never answer (until the client gives up or the stub stops).</param>
/// <param name="Body">A JSON body to answer with, if any.</param>
internal sealed record CollectorReply(int Status, string? RetryAfter = null, bool Hang = false, string? Body = null)
{
    public static readonly CollectorReply Ok = new(200);
    public static readonly CollectorReply Unavailable = new(503);
    public static readonly CollectorReply NoAnswer = new(0, Hang: true);
}

/// <summary>One request as the collector stub received it.</summary>
internal sealed record CollectorRequest(
    int Index, DateTimeOffset ArrivedAt, string Method, string? Authorization, string? ContentType, string? ContentEncoding,
    string? UserAgent, int WireLength, byte[] Body, string Path = "")
{
    /// <summary>The raw bytes of each element of the body's JSON array.</summary>
    public IReadOnlyList<byte[]> Elements()
    {
        using var document = JsonDocument.Parse(Body);
        Assert.Equal(JsonValueKind.Array, document.RootElement.ValueKind);
        return [.. document.RootElement.EnumerateArray().Select(e => Encoding.UTF8.GetBytes(e.GetRawText()))];
    }

    /// <summary>The body's events, each validated by the contract's parser.</summary>
    public IReadOnlyList<FeedbackEvent> Events() =>
        [.. Elements().Select(e => EventJson.TryParse(e, out var evt, out var rejection) ? evt : throw new InvalidDataException(rejection.ToString()))];
}

/// <summary>
/// A collector on loopback: real Kestrel and real HTTP. It records every request (body decompressed when
/// it says gzip) and answers what the test's script gives for the n-th request, counted from 0.
/// </summary>
internal sealed class CollectorStub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<CollectorRequest> _requests = new();
    private readonly Func<int, CollectorReply> _script;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stopping = new();
    private int _count;

    private CollectorStub(Func<int, CollectorReply> script, TimeProvider clock)
    {
        _script = script;
        _clock = clock;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    /// <summary>The URL the transport posts to.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The requests received so far, in order of arrival.</summary>
    public IReadOnlyList<CollectorRequest> Requests => [.. _requests];

    /// <summary>Starts a stub on a free loopback port. <paramref name="clock"/> stamps arrivals.</summary>
    public static async Task<CollectorStub> StartAsync(Func<int, CollectorReply> script, TimeProvider? clock = null)
    {
        var stub = new CollectorStub(script, clock ?? TimeProvider.System);
        await stub._app.StartAsync();
        var address = stub._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        stub.Endpoint = new Uri(new Uri(address), "/v1/events");
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(timeout.Token);
        }
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrivedAt = _clock.GetUtcNow();
        var request = context.Request;
        using var wire = new MemoryStream();
        await request.Body.CopyToAsync(wire, context.RequestAborted);
        var body = wire.ToArray();
        if (request.Headers.ContentEncoding == "gzip")
        {
            using var plain = new MemoryStream();
            using (var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress))
            {
                await gzip.CopyToAsync(plain, context.RequestAborted);
            }
            body = plain.ToArray();
        }

        // Sequential senders get indexes in arrival order; the index is taken once the request is whole.
        var index = Interlocked.Increment(ref _count) - 1;
        _requests.Enqueue(new CollectorRequest(
            index, arrivedAt, request.Method, request.Headers.Authorization, request.ContentType, request.Headers.ContentEncoding,
            request.Headers.UserAgent, (int)wire.Length, body, request.Path.Value ?? ""));

        var reply = _script(index);
        if (reply.Hang)
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
            try
            {
                await Task.Delay(Timeout.Infinite, either.Token);
            }
            catch (OperationCanceledException)
            {
                // The client hung up or the stub is stopping.
            }
            return;
        }
        if (reply.RetryAfter is not null) context.Response.Headers.RetryAfter = reply.RetryAfter;
        context.Response.StatusCode = reply.Status;
        if (reply.Body is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(reply.Body, context.RequestAborted);
        }
    }
}
