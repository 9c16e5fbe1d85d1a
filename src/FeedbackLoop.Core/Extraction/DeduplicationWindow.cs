namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The last N event ids seen, oldest forgotten first. Duplicates from producer retries arrive close to
/// the original, so a bounded window catches them without memory growing with history; replays from a
/// committed offset rebuild state anyway, and rows are de-duplicated by their deterministic ids.
/// </summary>
/// <remarks>
/// The window outlives many garbage collections (up to 200,000 ids a partition by default), so how an id is kept matters:
/// an id in the SDK's form, a UUID written in lowercase (<see cref="IsLowercaseUuid"/>), is kept as its 16 bytes in a set
/// and an order queue whose arrays hold no reference at all, so the collector neither traces an object per id nor scans
/// those arrays. Any other id is kept as its string, in a set and order of its own. Equality stays the ids' own, character
/// for character: only the one spelling that a UUID's text gives back is packed, and a packed id never equals a text one,
/// so two ids are the same exactly when they are the same string.
/// </remarks>
internal sealed partial class DeduplicationWindow(int capacity)
{
    private readonly HashSet<Guid> _uuids = [];
    private readonly HashSet<string> _texts = new(StringComparer.Ordinal);
    // Every id in arrival order, for eviction and checkpoints: a packed id as its value, a text id as a marker whose
    // string is the next one in _textOrder.
    private readonly Queue<Arrival> _order = new();
    private readonly Queue<string> _textOrder = new();

    /// <summary>True when the id is new (and is now remembered).</summary>
    public bool Add(string id)
    {
        if (IsLowercaseUuid(id)) return AddPacked(Guid.ParseExact(id, "D"));
        if (!_texts.Add(id)) return false;
        _order.Enqueue(new Arrival(default, IsText: true));
        _textOrder.Enqueue(id);
        Added();
        return true;
    }

    private bool AddPacked(Guid uuid)
    {
        if (!_uuids.Add(uuid)) return false;
        _order.Enqueue(new Arrival(uuid, IsText: false));
        Added();
        return true;
    }

    private void Added()
    {
        if (_sinceBase < int.MaxValue) _sinceBase++;
        if (_order.Count > capacity) Forget(_order.Dequeue());
    }

    /// <summary>How many ids are remembered.</summary>
    public int Count => _order.Count;

    /// <summary>The 8-4-4-4-12 form with lowercase hex digits only: the one spelling <see cref="Guid.ToString(string)"/> gives back.</summary>
    internal static bool IsLowercaseUuid(string id)
    {
        if (id.Length != 36) return false;
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            var ok = i is 8 or 13 or 18 or 23 ? c == '-' : char.IsAsciiDigit(c) || c is >= 'a' and <= 'f';
            if (!ok) return false;
        }
        return true;
    }

    private void Forget(Arrival oldest)
    {
        if (oldest.IsText) _texts.Remove(_textOrder.Dequeue());
        else _uuids.Remove(oldest.Uuid);
    }

    /// <summary>One id's place in the arrival order; no reference, so the queue's array is never scanned by the collector.</summary>
    private readonly record struct Arrival(Guid Uuid, bool IsText);
}
