namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The app ids the extractor saw events of that no pipeline registers (issue 10, finding 5). Their events are still
/// extracted (the topic is guarded by Kafka ACLs and collector keys, not by the extractor), but they are counted and
/// each id is reported once, so an operator sees them; the orchestrator never starts a run for one.
/// At most <see cref="ExtractionLoopOptions.MaxUnregisteredAppsReported"/> distinct ids are kept: a sender inventing ids
/// cannot grow this set, and ids past the cap are counted without being named. Written by the consume thread, read by any.
/// </summary>
public sealed class UnregisteredApps(int maxReported)
{
    private readonly Lock _lock = new();
    private readonly List<string> _reported = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private long _events;
    private long _unnamed;

    /// <summary>Events of unregistered apps applied so far.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Distinct unregistered app ids seen beyond the cap (named nowhere, counted here; an id may count more than once).</summary>
    public long Unnamed => Interlocked.Read(ref _unnamed);

    /// <summary>The distinct unregistered app ids seen, in the order first seen (at most the cap).</summary>
    public IReadOnlyList<string> Reported
    {
        get
        {
            lock (_lock) return [.. _reported];
        }
    }

    /// <summary>Counts one event of <paramref name="appId"/>; true the first time the id is seen (report it then).</summary>
    internal bool Record(string appId)
    {
        Interlocked.Increment(ref _events);
        lock (_lock)
        {
            if (_seen.Contains(appId)) return false;
            if (_seen.Count >= maxReported)
            {
                Interlocked.Increment(ref _unnamed);
                return false;
            }
            _seen.Add(appId);
            _reported.Add(appId);
            return true;
        }
    }
}
