namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The last N event ids seen, oldest forgotten first. Duplicates from producer retries arrive close to
/// the original, so a bounded window catches them without memory growing with history; replays from a
/// committed offset rebuild state anyway, and rows are de-duplicated by their deterministic ids.
/// </summary>
internal sealed class DeduplicationWindow(int capacity)
{
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>True when the id is new (and is now remembered).</summary>
    public bool Add(string id)
    {
        if (!_ids.Add(id)) return false;
        _order.Enqueue(id);
        if (_order.Count > capacity) _ids.Remove(_order.Dequeue());
        return true;
    }

    /// <summary>The remembered ids, oldest first: what a checkpoint keeps, so a restore remembers exactly these.</summary>
    public IReadOnlyCollection<string> Remembered => _order;
}
