using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Core.Extraction;

/// <summary>What an engagement event adds to its window.</summary>
internal enum EngagementMetric
{
    Shown, ThumbsUp, ThumbsDown, Regenerated, Edited, Copied, Accepted, Rejected, ComparisonsWon, ComparisonsLost, Dwell,
}

/// <summary>
/// One-minute event-time windows per (app, model version, variant). Accumulators are kept per source
/// partition, so a partition's share can be dropped on a rebalance and rebuilt by its next owner, and each share
/// becomes its own row, with the partition in its id: extractor instances that split a topic's partitions between
/// them then write the very rows one instance would, and a share rebuilt after a crash has the id of the row it
/// repeats (readers sum a window's rows, <see cref="EngagementTotal"/>). A window closes once its app's
/// watermark passes its end plus the allowed lateness; an event for a window already due is late, counted,
/// and not added, so a written window is final. Watermarks are per app (issue 10, finding 3): one app's event
/// time never closes another app's windows.
/// </summary>
internal sealed partial class EngagementAggregator(ExtractionSettings settings, ExtractionCounters counters, ExtractionOutput output)
{
    private readonly Dictionary<(WindowKey Key, int Partition), Accumulator> _open = [];
    // Event time each app's input has reached (never moves back while the app has open windows). Windows ending, plus
    // the allowed lateness, at or before it are due: events for them are late whether or not a sweep has closed them
    // yet, so how often the host sweeps changes when rows appear, never which rows. An app's entry goes with its last
    // open window, so app ids that senders make up cost nothing once their windows are written.
    private readonly Dictionary<string, DateTimeOffset> _watermarks = new(StringComparer.Ordinal);
    // The liveness bound of per-app watermarks: an app that goes quiet moves no watermark of its own, so its last
    // windows also close once records went on arriving for a session timeout of record time after the window's latest
    // record (see SessionExpiry.IsIdle). Kept per open window, over all its shares.
    private readonly Dictionary<WindowKey, DateTimeOffset> _lastRecordAt = [];
    private DateTimeOffset _recordClock = DateTimeOffset.MinValue;

    /// <summary>Moves <paramref name="appId"/>'s watermark forward (never back).</summary>
    public void Advance(string appId, DateTimeOffset watermark)
    {
        if (!_watermarks.TryGetValue(appId, out var current) || watermark > current) _watermarks[appId] = watermark;
    }

    /// <summary>The watermark stored for <paramref name="appId"/>; false while the app has none (no window open since its last closed).</summary>
    public bool TryGetWatermark(string appId, out DateTimeOffset watermark) => _watermarks.TryGetValue(appId, out watermark);

    /// <summary>Moves the record clock forward (never back): the latest record time read on any partition.</summary>
    public void AdvanceRecordClock(DateTimeOffset recordTime)
    {
        if (recordTime > _recordClock) _recordClock = recordTime;
    }

    /// <summary>The apps that have an open window (a copy: advancing them is safe while iterating).</summary>
    public List<string> AppsWithOpenWindows() => [.. _open.Keys.Select(k => k.Key.AppId).Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// Counts one event in its window's share of <paramref name="partition"/>. <paramref name="replayFrom"/> is the first
    /// record of the event's session: a re-read that rebuilds the share must start there, not at the event, because the
    /// event is attributed through its session's <c>generation.shown</c>, which may lie before the window.
    /// </summary>
    public void Add(string appId, ShownGeneration generation, DateTimeOffset at, int partition, long replayFrom, DateTimeOffset? recordTime,
        EngagementMetric metric, long dwellMs = 0)
    {
        var start = WindowStart(at);
        var key = new WindowKey(appId, generation.ModelVersion, generation.Variant, start.UtcTicks);
        if (IsDue(appId, start) || IsIdle(key))
        {
            counters.LateEngagementEvents++;
            return;
        }
        if (recordTime is { } arrived && (!_lastRecordAt.TryGetValue(key, out var last) || arrived > last)) _lastRecordAt[key] = arrived;
        if (!_open.TryGetValue((key, partition), out var accumulator))
        {
            accumulator = new Accumulator(replayFrom);
            _open[(key, partition)] = accumulator;
        }
        else if (replayFrom < accumulator.FirstOffset)
        {
            accumulator.FirstOffset = replayFrom;
        }
        accumulator.Counts[(int)metric]++;
        if (metric == EngagementMetric.Dwell)
        {
            if (accumulator.Dwell.Count < settings.MaxDwellSamplesPerWindow) accumulator.Dwell.Add(dwellMs);
            else counters.DwellSamplesOverCap++;
        }
    }

    /// <summary>Closes every due window and appends one row per (window, partition) share to the output.</summary>
    public void CloseDue()
    {
        if (_open.Count == 0)
        {
            _watermarks.Clear();
            _lastRecordAt.Clear();
            return;
        }
        var due = new List<((WindowKey Key, int Partition) Share, Accumulator Accumulator)>();
        foreach (var (share, accumulator) in _open)
        {
            if (IsDue(share.Key.AppId, new DateTimeOffset(share.Key.StartTicks, TimeSpan.Zero)) || IsIdle(share.Key)) due.Add((share, accumulator));
        }
        foreach (var (share, accumulator) in due.OrderBy(d => d.Share.Key.StartTicks).ThenBy(d => d.Share.Key.AppId, StringComparer.Ordinal)
                     .ThenBy(d => d.Share.Key.ModelVersion, StringComparer.Ordinal).ThenBy(d => d.Share.Key.Variant, StringComparer.Ordinal)
                     .ThenBy(d => d.Share.Partition))
        {
            output.Windows.Add(ToRow(share.Key, share.Partition, accumulator));
            counters.EngagementWindowsClosed++;
            _open.Remove(share);
        }
        // Idleness is judged per window over all its shares, so all of a due window's shares closed together above.
        foreach (var (share, _) in due) _lastRecordAt.Remove(share.Key);
        var open = _open.Keys.Select(k => k.Key.AppId).ToHashSet(StringComparer.Ordinal);
        foreach (var appId in _watermarks.Keys.Where(a => !open.Contains(a)).ToList()) _watermarks.Remove(appId);
    }

    /// <summary>The smallest offset of <paramref name="partition"/> that an open window still needs, if any.</summary>
    public long? MinOpenOffset(int partition)
    {
        long? min = null;
        foreach (var ((_, p), accumulator) in _open)
        {
            if (p == partition && (min is null || accumulator.FirstOffset < min)) min = accumulator.FirstOffset;
        }
        return min;
    }

    /// <summary>Forgets a partition's shares (it was revoked; its next owner rebuilds them from the committed offset).</summary>
    public void DropPartition(int partition)
    {
        foreach (var key in _open.Keys.Where(k => k.Partition == partition).ToList()) _open.Remove(key);
        var open = _open.Keys.Select(k => k.Key).ToHashSet();
        foreach (var key in _lastRecordAt.Keys.Where(k => !open.Contains(k)).ToList()) _lastRecordAt.Remove(key);
    }

    public int OpenWindows => _open.Count;

    /// <summary>Whether the window starting at <paramref name="start"/> is closed to new events (saturating: a window
    /// at the end of time is due only when its app's watermark is too, i.e. at <see cref="Extractor.ResolveAll"/>).</summary>
    private bool IsDue(string appId, DateTimeOffset start) =>
        _watermarks.TryGetValue(appId, out var watermark)
        && SaturatingTime.Add(SaturatingTime.Add(start, settings.EngagementWindow), settings.EngagementAllowedLateness) <= watermark;

    /// <summary>Whether records went on arriving for a session timeout of record time after the window's latest record.</summary>
    private bool IsIdle(WindowKey key) =>
        _lastRecordAt.TryGetValue(key, out var last) && SessionExpiry.IsIdle(_recordClock, last, settings.SessionTimeout);

    private DateTimeOffset WindowStart(DateTimeOffset at)
    {
        var ticks = settings.EngagementWindow.Ticks;
        return new DateTimeOffset(at.UtcTicks - (at.UtcTicks % ticks), TimeSpan.Zero);
    }

    private EngagementWindow ToRow(WindowKey key, int partition, Accumulator share)
    {
        var counts = share.Counts;
        var dwell = share.Dwell;
        dwell.Sort();
        var start = new DateTimeOffset(key.StartTicks, TimeSpan.Zero);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return new EngagementWindow(
            StableId.Of("engagement", key.AppId, string.Join('\u001f', key.ModelVersion, key.Variant, key.StartTicks.ToString(invariant), partition.ToString(invariant))),
            key.AppId, key.ModelVersion, key.Variant, start, SaturatingTime.Add(start, settings.EngagementWindow),
            counts[(int)EngagementMetric.Shown], counts[(int)EngagementMetric.ThumbsUp], counts[(int)EngagementMetric.ThumbsDown],
            counts[(int)EngagementMetric.Regenerated], counts[(int)EngagementMetric.Edited], counts[(int)EngagementMetric.Copied],
            counts[(int)EngagementMetric.Accepted], counts[(int)EngagementMetric.Rejected],
            counts[(int)EngagementMetric.ComparisonsWon], counts[(int)EngagementMetric.ComparisonsLost],
            counts[(int)EngagementMetric.Dwell],
            Percentile(dwell, 0.50), Percentile(dwell, 0.90), Percentile(dwell, 0.99), partition);
    }

    /// <summary>Nearest-rank percentile of sorted values; null when there are none.</summary>
    internal static double? Percentile(List<long> sorted, double q)
    {
        if (sorted.Count == 0) return null;
        var rank = (int)Math.Ceiling(q * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }

    internal readonly record struct WindowKey(string AppId, string ModelVersion, string Variant, long StartTicks);

    internal sealed class Accumulator(long firstOffset)
    {
        /// <summary>Where a re-read must start to rebuild this share: the earliest first record of its events' sessions.</summary>
        public long FirstOffset { get; set; } = firstOffset;
        public long[] Counts { get; } = new long[Enum.GetValues<EngagementMetric>().Length];
        public List<long> Dwell { get; } = [];
    }
}
