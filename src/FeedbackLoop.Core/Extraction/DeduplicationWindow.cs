namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The last N event ids seen, oldest forgotten first. Duplicates from producer retries arrive close to
/// the original, so a bounded window catches them without memory growing with history; replays from a
/// committed offset rebuild state anyway, and rows are de-duplicated by their deterministic ids.
/// </summary>
/// <remarks>
/// The window outlives many garbage collections (up to 200,000 ids a partition by default), so how an id is kept matters:
/// an id in the SDK's form, a UUID written in lowercase (<see cref="EventIdKey"/>), is kept as its 16 bytes inside the
/// set's and the queue's arrays, with no string object for the collector to trace and copy. Any other id is kept as it
/// came. Equality stays the ids' own, character for character: only the one spelling that a UUID's text gives back is
/// packed, so two ids are the same key exactly when they are the same string.
/// </remarks>
internal sealed class DeduplicationWindow(int capacity)
{
    private readonly HashSet<EventIdKey> _ids = [];
    private readonly Queue<EventIdKey> _order = new();

    /// <summary>True when the id is new (and is now remembered).</summary>
    public bool Add(string id)
    {
        var key = EventIdKey.Of(id);
        if (!_ids.Add(key)) return false;
        _order.Enqueue(key);
        if (_order.Count > capacity) _ids.Remove(_order.Dequeue());
        return true;
    }

    /// <summary>How many ids are remembered.</summary>
    public int Count => _order.Count;

    /// <summary>
    /// The remembered ids, oldest first, as they came, each as <see cref="CheckpointWriter.Write(string)"/> writes a string:
    /// what a checkpoint keeps, so a restore (which adds them back in this order) remembers exactly these. A packed id is
    /// written from its bytes, with no string made for it.
    /// </summary>
    public void WriteIds(CheckpointWriter writer)
    {
        Span<char> uuid = stackalloc char[36];
        foreach (var key in _order)
        {
            if (key.Text is { } text)
            {
                writer.Write(text);
                continue;
            }
            key.Uuid.TryFormat(uuid, out _, "D");
            writer.Write((ReadOnlySpan<char>)uuid);
        }
    }
}

/// <summary>An event id as the de-duplication window keeps it: a lowercase UUID as its 16 bytes, anything else as its text.</summary>
internal readonly record struct EventIdKey(Guid Uuid, string? Text)
{
    public static EventIdKey Of(string id) => IsLowercaseUuid(id) ? new EventIdKey(Guid.ParseExact(id, "D"), null) : new EventIdKey(default, id);

    /// <summary>The id as it came: a packed UUID's text is exactly the id it was made from.</summary>
    public override string ToString() => Text ?? Uuid.ToString("D");

    /// <summary>The 8-4-4-4-12 form with lowercase hex digits only: the one spelling <see cref="Guid.ToString(string)"/> gives back.</summary>
    private static bool IsLowercaseUuid(string id)
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
}
