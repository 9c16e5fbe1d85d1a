namespace FeedbackLoop.Collector;

/// <summary>
/// The bytes all requests hold at once (bodies on the wire and decompressed, until their answer is sent), against a
/// bound: a request that would pass it is answered 429 instead of growing memory.
/// </summary>
internal sealed class InFlightBytes(long limit)
{
    private long _held;

    public long Held => Volatile.Read(ref _held);

    public bool TryReserve(long bytes)
    {
        while (true)
        {
            var held = Volatile.Read(ref _held);
            if (held + bytes > limit) return false;
            if (Interlocked.CompareExchange(ref _held, held + bytes, held) == held) return true;
        }
    }

    public void Release(long bytes) => Interlocked.Add(ref _held, -bytes);
}
