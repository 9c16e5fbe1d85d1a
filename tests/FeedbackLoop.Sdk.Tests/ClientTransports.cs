using System.Collections.Concurrent;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// Stand-ins for a broker or collector that is healthy, stuck or failing, for tests of the client itself
/// (the real transports have their own tests against real servers).
/// </summary>
/// <summary>Records what it is sent; optionally each call first waits for <paramref name="gate"/>, so a test can hold the sender.</summary>
internal sealed class RecordingTransport(TimeSpan? delay = null, Task? gate = null) : IFeedbackTransport
{
    private readonly ConcurrentQueue<SerializedEvent> _events = new();
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public IReadOnlyList<SerializedEvent> Events => [.. _events];

    public IReadOnlyList<FeedbackEvent> Parsed() =>
        [.. Events.Select(e => EventJson.TryParse(e.Json.Span, out var evt, out var why) ? evt! : throw new InvalidOperationException(why!.ToString()))];

    public bool Disposed { get; private set; }

    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (gate is not null) await gate.WaitAsync(cancellationToken);
        if (delay is { } d) await Task.Delay(d, cancellationToken);
        foreach (var e in batch) _events.Enqueue(e);
        return SendResult.AllDelivered(batch.Count);
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Never answers until cancelled.</summary>
internal sealed class HangingTransport : IFeedbackTransport
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public bool Disposed { get; private set; }

    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return default;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Fails the first <paramref name="failures"/> calls (all of them by default), then records.</summary>
internal sealed class FailingTransport(int failures = int.MaxValue) : IFeedbackTransport
{
    private readonly RecordingTransport _after = new();
    private int _calls;

    public IReadOnlyList<SerializedEvent> Delivered => _after.Events;

    public Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken) =>
        Interlocked.Increment(ref _calls) <= failures ? throw new IOException("broker unreachable") : _after.SendAsync(batch, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
