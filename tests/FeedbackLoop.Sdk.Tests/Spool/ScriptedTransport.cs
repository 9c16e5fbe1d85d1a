using System.Text;

namespace FeedbackLoop.Sdk.Tests.Spool;

/// <summary>
/// Stands in for the broker or collector behind the spool: records what it acknowledged, and fails the
/// way a script says (down, a plain error, or a partial delivery that names the undelivered positions).
/// </summary>
internal sealed class ScriptedTransport : IFeedbackTransport
{
    private readonly Lock _gate = new();
    private readonly List<SerializedEvent> _delivered = [];
    private readonly List<IReadOnlyList<SerializedEvent>> _batches = [];
    private int _calls;

    /// <summary>
    /// Decides each call (numbered from 0): null delivers the batch; an exception fails it. A
    /// <see cref="FeedbackTransportException"/> that names undelivered positions delivers the others first.
    /// </summary>
    public Func<int, IReadOnlyList<SerializedEvent>, Exception?> Script { get; set; } = (_, _) => null;

    /// <summary>While true every call fails as a broker outage would.</summary>
    public bool Down { get; set; }

    public bool Disposed { get; private set; }

    public int Calls => Volatile.Read(ref _calls);

    public IReadOnlyList<string> DeliveredIds
    {
        get
        {
            lock (_gate) return _delivered.Select(e => e.EventId).ToList();
        }
    }

    public IReadOnlyList<SerializedEvent> Delivered
    {
        get
        {
            lock (_gate) return [.. _delivered];
        }
    }

    /// <summary>Every batch offered, failed ones included.</summary>
    public IReadOnlyList<IReadOnlyList<SerializedEvent>> Batches
    {
        get
        {
            lock (_gate) return [.. _batches];
        }
    }

    public Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls) - 1;
        var copy = batch.ToList();
        lock (_gate) _batches.Add(copy);
        var failure = Down ? new FeedbackTransportException("broker down") : Script(call, copy);
        if (failure is null)
        {
            lock (_gate) _delivered.AddRange(copy);
            return Task.FromResult(SendResult.AllDelivered(copy.Count));
        }
        if (failure is FeedbackTransportException { Undelivered: { } undelivered })
        {
            lock (_gate) _delivered.AddRange(copy.Where((_, i) => !undelivered.Contains(i)));
        }
        throw failure;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    /// <summary>An event whose JSON is exactly <paramref name="jsonBytes"/> long (at least 40).</summary>
    public static SerializedEvent Event(int number, int jsonBytes = 64, string session = "s1")
    {
        var id = "e" + number.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);
        var prefix = "{\"event_id\":\"" + id + "\",\"pad\":\"";
        var json = prefix + new string('x', jsonBytes - prefix.Length - 2) + "\"}";
        return new SerializedEvent(id, session, Encoding.UTF8.GetBytes(json));
    }

    public static List<SerializedEvent> Events(int from, int count, int jsonBytes = 64) =>
        Enumerable.Range(from, count).Select(i => Event(i, jsonBytes)).ToList();
}
