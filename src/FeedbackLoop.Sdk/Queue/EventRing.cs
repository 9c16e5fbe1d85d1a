using System.Runtime.InteropServices;

namespace FeedbackLoop.Sdk.Queue;

/// <summary>
/// The bounded multi-producer, single-consumer queue between the app's threads and the sender: a ring of
/// preallocated slots with per-slot sequence numbers (D. Vyukov's bounded queue). A producer claims a
/// position with one compare-and-swap, writes the slot in place and publishes it, so enqueueing allocates
/// nothing and never waits; when the ring is full it says so at once. Closing sets a bit in the tail so
/// that no claim can succeed afterwards and the consumer knows exactly how many events it must settle.
/// </summary>
internal sealed class EventRing
{
    private const long ClosedBit = 1L << 62;

    private readonly Slot[] _slots;
    private readonly long _capacity;
    private PaddedLong _tail;
    private PaddedLong _head;

    public EventRing(int capacity)
    {
        _capacity = capacity;
        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++) _slots[i].Sequence = i;
    }

    /// <summary>Positions ever claimed: the number of events that entered the queue.</summary>
    public long Claimed => Volatile.Read(ref _tail.Value) & ~ClosedBit;

    /// <summary>Events waiting to be taken.</summary>
    public long Count => Math.Max(0, Claimed - Volatile.Read(ref _head.Value));

    public bool IsClosed => (Volatile.Read(ref _tail.Value) & ClosedBit) != 0;

    /// <summary>Claims the next slot. False when the ring is full or closed (<paramref name="closed"/> says which).</summary>
    public bool TryClaim(out long position, out bool closed)
    {
        var pos = Volatile.Read(ref _tail.Value);
        while (true)
        {
            if ((pos & ClosedBit) != 0)
            {
                position = 0;
                closed = true;
                return false;
            }
            var sequence = Volatile.Read(ref _slots[pos % _capacity].Sequence);
            var diff = sequence - pos;
            if (diff == 0)
            {
                var seen = Interlocked.CompareExchange(ref _tail.Value, pos + 1, pos);
                if (seen == pos)
                {
                    position = pos;
                    closed = false;
                    return true;
                }
                pos = seen;
            }
            else if (diff < 0)
            {
                position = 0;
                closed = false;
                return false; // the slot still holds an event from one lap ago: full
            }
            else
            {
                pos = Volatile.Read(ref _tail.Value);
            }
        }
    }

    /// <summary>The claimed slot's event, to be written in place before <see cref="Publish"/>.</summary>
    public ref PendingEvent this[long position] => ref _slots[position % _capacity].Item;

    /// <summary>Makes a claimed, written slot visible to the consumer.</summary>
    public void Publish(long position) => Volatile.Write(ref _slots[position % _capacity].Sequence, position + 1);

    /// <summary>Takes the oldest published event (consumer only). False when none is published yet.</summary>
    public bool TryTake(out PendingEvent item)
    {
        var head = _head.Value;
        ref var slot = ref _slots[head % _capacity];
        if (Volatile.Read(ref slot.Sequence) != head + 1)
        {
            item = default;
            return false;
        }
        item = slot.Item;
        slot.Item = default; // let the strings go
        Volatile.Write(ref slot.Sequence, head + _capacity);
        Volatile.Write(ref _head.Value, head + 1);
        return true;
    }

    /// <summary>Stops all further claims; returns the final number of claimed positions.</summary>
    public long Close()
    {
        var tail = Volatile.Read(ref _tail.Value);
        while ((tail & ClosedBit) == 0)
        {
            var seen = Interlocked.CompareExchange(ref _tail.Value, tail | ClosedBit, tail);
            if (seen == tail) break;
            tail = seen;
        }
        return tail & ~ClosedBit;
    }

    /// <summary>Positions taken by the consumer so far.</summary>
    public long Taken => Volatile.Read(ref _head.Value);

    private struct Slot
    {
        public long Sequence;
        public PendingEvent Item;
    }

    /// <summary>Keeps the producers' tail and the consumer's head on separate cache lines.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)] public long Value;
    }
}
