using FeedbackLoop.Contracts;

namespace FeedbackLoop.Core.Extraction;

/// <summary>The outcome of offering one event to the extractor.</summary>
public enum ProcessOutcome
{
    /// <summary>The event was new and was applied.</summary>
    Processed,
    /// <summary>An event with the same event_id was already applied in this partition; it was skipped.</summary>
    Duplicate,
}

/// <summary>
/// The preference and engagement extractors over a stream of valid events, with no broker: the Kafka
/// loop feeds it records and writes what it drains, and tests feed it lists (the TopologyTestDriver idea).
/// State is kept per source partition (a session never spans partitions because session_id is the key)
/// and only for open sessions. Single-threaded by design: the consume loop owns it.
/// </summary>
public sealed partial class Extractor
{
    private readonly ExtractionSettings _settings;
    private readonly SessionRules _rules;
    private readonly EngagementAggregator _engagement;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    // The same states as a list, in the order the engagement watermark's scan and the per-app clock cache index them.
    private readonly List<PartitionState> _partitionList = [];
    // Per app, its clock on each partition of _partitionList (null where it has none), so the watermark's scan reads
    // references instead of looking the app up in each partition's table. Valid while _clockLayout is unchanged: it moves
    // whenever a partition or an app clock comes or goes, and the cache is then rebuilt as apps are met.
    private readonly Dictionary<string, AppClocks> _clocksByApp = new(StringComparer.Ordinal);
    private int _clockLayout;
    private int _clocksByAppLayout;
    // Kept as sessions open and close, so a metrics thread can read it without walking the dictionaries.
    private int _openSessions;
    // Estimated bytes of all open sessions (SessionBudget), kept as sessions grow, open and close, against
    // MaxSessionStateBytes; a metrics thread reads it.
    private long _sessionStateBytes;

    /// <summary>Creates an extractor with the given rules and limits.</summary>
    public Extractor(ExtractionSettings? settings = null)
    {
        _settings = settings ?? new ExtractionSettings();
        _rules = new SessionRules(_settings, Counters, Output);
        _engagement = new EngagementAggregator(_settings, Counters, Output);
    }

    /// <summary>What was done and every limit that was hit.</summary>
    public ExtractionCounters Counters { get; } = new();

    /// <summary>Rows produced since the host last drained them.</summary>
    public ExtractionOutput Output { get; } = new();

    /// <summary>Sessions currently open over all partitions; safe to read from any thread.</summary>
    public int OpenSessions => Volatile.Read(ref _openSessions);

    /// <summary>Estimated heap held by open sessions over all partitions; safe to read from any thread.</summary>
    public long SessionStateBytes => Volatile.Read(ref _sessionStateBytes);

    /// <summary>Engagement window shares currently open.</summary>
    public int OpenEngagementWindows => _engagement.OpenWindows;

    /// <summary>
    /// Applies one valid event read at <paramref name="offset"/> of <paramref name="partition"/>. <paramref name="recordTime"/>
    /// is the record's timestamp as the event-time check used it (<see cref="EventTimeCheck.Reference"/>), when it had one:
    /// it only bounds how long sessions and windows of a quiet app stay open (<see cref="SessionExpiry.IsIdle"/>).
    /// </summary>
    public ProcessOutcome Process(int partition, long offset, FeedbackEvent evt, DateTimeOffset? recordTime = null)
    {
        var state = Partition(partition);
        if (!state.Deduplication.Add(evt.EventId))
        {
            Counters.DuplicateEvents++;
            return ProcessOutcome.Duplicate;
        }
        Counters.EventsProcessed++;

        // The watermarks move first: an event more than the timeout after its session's last one finds that
        // session resolved, whether or not other sessions' traffic moved the watermark in between. Expiry reads the
        // session's own app's clock on this partition, so no other app's event time (a clock running ahead, or
        // current traffic while this app backfills) can expire it (issue 10, finding 3).
        if (evt.OccurredAt > state.Watermark) state.Watermark = evt.OccurredAt;
        var clock = AppClockFor(state, evt.AppId);
        if (clock is not null && evt.OccurredAt > clock.Watermark) clock.Watermark = evt.OccurredAt;
        var appWatermark = clock?.Watermark ?? state.Watermark;
        if (recordTime > state.RecordClock) state.RecordClock = recordTime.Value;
        if (recordTime is { } arrived) _engagement.AdvanceRecordClock(arrived);
        state.CaughtUp = false;
        var key = (evt.AppId, evt.SessionId);
        if (state.Sessions.TryGetValue(key, out var session) && IsExpired(state, session, appWatermark))
        {
            ResolveSession(state, key, session);
            if (session.CutReason is null) Counters.SessionsTimedOut++;
            session = null;
        }

        if (session is null)
        {
            if (state.Sessions.Count >= _settings.MaxOpenSessionsPerPartition) EvictLeastRecentlyActive(state);
            session = new SessionState(evt.AppId, evt.SessionId, offset, evt.OccurredAt, _settings.Rules.For(evt.AppId));
            state.Sessions[key] = session;
            // An app with open sessions keeps its clock (only idle apps give theirs up at the cap).
            if (clock is not null) clock.OpenSessions++;
            Volatile.Write(ref _openSessions, _openSessions + 1);
            AddSessionStateBytes(session.EstimatedBytes);
        }
        if (evt.OccurredAt > session.LastEventAt) session.LastEventAt = evt.OccurredAt;
        if (recordTime > session.LastRecordAt || (recordTime is not null && session.LastRecordAt is null)) session.LastRecordAt = recordTime;
        if (session.CutReason is not null)
        {
            // A cut session's key ignores everything, session.ended included, until it expires (SessionBudget).
            Counters.EventsIgnoredInCutSessions++;
            return ProcessOutcome.Processed;
        }

        var bytesBefore = session.EstimatedBytes;
        _rules.Apply(session, evt);
        AddSessionStateBytes(session.EstimatedBytes - bytesBefore);
        AdvanceEngagement(evt.AppId);
        CountEngagement(session, evt, partition, offset, recordTime);

        if (SessionBudget.Check(session.Entries, session.EstimatedBytes, _settings) is { } reason)
        {
            Cut(state, key, session, reason);
        }
        else if (evt.Data is SessionEnded)
        {
            ResolveSession(state, key, session);
            Counters.SessionsEnded++;
        }
        if (Volatile.Read(ref _sessionStateBytes) > _settings.MaxSessionStateBytes) EvictForMemory();
        return ProcessOutcome.Processed;
    }

    /// <summary>
    /// Resolves sessions idle past the timeout (event time) and closes due engagement windows. Calling it
    /// more or less often changes when rows appear, never which rows.
    /// </summary>
    public void Sweep()
    {
        foreach (var state in _partitions.Values)
        {
            foreach (var (key, session) in state.Sessions.Where(s => IsExpired(state, s.Value, WatermarkOf(state, s.Key.AppId))).ToList())
            {
                ResolveSession(state, key, session);
                if (session.CutReason is null) Counters.SessionsTimedOut++;
            }
        }
        foreach (var appId in _engagement.AppsWithOpenWindows())
        {
            var app = ClocksOf(appId);
            _engagement.Advance(appId, EngagementWatermark(app, out var witness));
            app.Witness = witness;
        }
        _engagement.CloseDue();
    }

    /// <summary>
    /// Registers a partition this extractor now reads. Until it yields an event or is caught up, it holds
    /// engagement windows open, because its backlog may still hold events for them.
    /// </summary>
    public void TrackPartition(int partition) => Partition(partition);

    /// <summary>The sessions open on a partition, for tests of what a session holds.</summary>
    internal IReadOnlyCollection<SessionState> SessionsOf(int partition) =>
        _partitions.TryGetValue(partition, out var state) ? state.Sessions.Values : [];

    /// <summary>
    /// The partition has been read to its end for now. A caught-up partition no longer holds windows open:
    /// an event that arrives there later for a closed window is late (counted, not added).
    /// </summary>
    public void MarkCaughtUp(int partition) => Partition(partition).CaughtUp = true;

    /// <summary>
    /// Event time up to which every partition has been read, for the windows of <paramref name="app"/> (windows are
    /// per app, so each app's close on its own clock). Over the partitions still reading a backlog it is the minimum
    /// (a partition that is ahead must not make the others' events late) of the app's own clock there, or, where the
    /// partition has not shown the app yet, of the partition's clock (its backlog may still hold the app's events:
    /// another app can hold these windows open while that backlog is read, never close them). Once every partition
    /// is caught up it is the maximum of the app's own clocks. Deterministic given the records, unlike a wall-clock
    /// idle timeout. An app that holds no clock anywhere (past <see cref="ExtractionSettings.MaxAppClocksPerPartition"/>)
    /// falls back to the partitions' shared clocks. <paramref name="witness"/> is the index of the partition that gave the
    /// minimum (see <see cref="AdvanceEngagement"/>), -1 when every partition is caught up.
    /// </summary>
    private DateTimeOffset EngagementWatermark(AppClocks app, out int witness)
    {
        var min = DateTimeOffset.MaxValue;
        var maxOwn = DateTimeOffset.MinValue;
        var maxShared = DateTimeOffset.MinValue;
        var own = false;
        witness = -1;
        var clocks = app.Clocks;
        for (var i = 0; i < clocks.Length; i++)
        {
            var state = _partitionList[i];
            var clock = clocks[i];
            var tracked = clock is not null;
            if (tracked && clock!.Watermark > maxOwn) maxOwn = clock.Watermark;
            if (state.Watermark > maxShared) maxShared = state.Watermark;
            own |= tracked;
            if (state.CaughtUp) continue;
            var bound = tracked ? clock!.Watermark : state.Watermark;
            if (witness < 0 || bound < min)
            {
                min = bound;
                witness = i;
            }
        }
        return witness >= 0 ? min : own ? maxOwn : maxShared;
    }

    /// <summary>
    /// Advances the engagement watermark of <paramref name="appId"/> after one of its events, skipping the scan over every
    /// partition (<see cref="EngagementWatermark"/>) where it cannot move the watermark. If the partition that bounded the
    /// app at the last scan (its witness) is still being read, the scan's minimum is at most that partition's bound; when
    /// that bound is at or below the watermark already stored, so is the minimum, and advancing (which never moves back)
    /// would leave the watermark as it is. Which windows close, and when, is exactly what a scan for every event gives;
    /// the scan runs only once the witness's own bound passes the stored watermark or it stops being read. (A scan for
    /// every event took 5.8 % of a consume loop's thread with 24 partitions, this 0.8 %: docs/BENCHMARKS.md, "The
    /// engagement watermark without a scan for every event".)
    /// </summary>
    private void AdvanceEngagement(string appId)
    {
        var app = ClocksOf(appId);
        if (app.Witness >= 0 && !_partitionList[app.Witness].CaughtUp && _engagement.TryGetWatermark(appId, out var stored)
            && BoundOf(app, app.Witness) <= stored)
        {
            return;
        }
        _engagement.Advance(appId, EngagementWatermark(app, out var witness));
        app.Witness = witness;
    }

    /// <summary>
    /// The engagement watermark stored for <paramref name="appId"/> (null: none), and what a scan over every partition gives
    /// now; the scan leaves the app's witness as it was. For tests of <see cref="AdvanceEngagement"/>.
    /// </summary>
    internal (DateTimeOffset? Stored, DateTimeOffset Scanned) EngagementWatermarks(string appId) =>
        (_engagement.TryGetWatermark(appId, out var stored) ? stored : null, EngagementWatermark(ClocksOf(appId), out _));

    /// <summary>What holds the app's windows back on partition <paramref name="index"/>: its own clock there, or the partition's.</summary>
    private DateTimeOffset BoundOf(AppClocks app, int index) => app.Clocks[index]?.Watermark ?? _partitionList[index].Watermark;

    /// <summary>The app's clocks in <see cref="_partitionList"/>'s order (see <see cref="_clocksByApp"/>).</summary>
    private AppClocks ClocksOf(string appId)
    {
        // App ids come from senders: the cache holds at most as many apps as a partition holds clocks, plus a margin.
        if (_clocksByAppLayout != _clockLayout || _clocksByApp.Count > 2 * _settings.MaxAppClocksPerPartition + 16)
        {
            _clocksByApp.Clear();
            _clocksByAppLayout = _clockLayout;
        }
        if (!_clocksByApp.TryGetValue(appId, out var app))
        {
            var clocks = new AppClock?[_partitionList.Count];
            for (var i = 0; i < clocks.Length; i++) clocks[i] = _partitionList[i].Apps.GetValueOrDefault(appId);
            app = new AppClocks(clocks);
            _clocksByApp[appId] = app;
        }
        return app;
    }

    /// <summary>
    /// Resolves every open session and closes every window now, as if the stream had ended. For finite
    /// inputs (tests, backfills); a live extractor keeps them open across restarts instead.
    /// </summary>
    public void ResolveAll()
    {
        foreach (var state in _partitions.Values)
        {
            foreach (var (key, session) in state.Sessions.ToList()) ResolveSession(state, key, session);
        }
        foreach (var appId in _engagement.AppsWithOpenWindows()) _engagement.Advance(appId, DateTimeOffset.MaxValue);
        _engagement.CloseDue();
    }

    /// <summary>
    /// The offset from which <paramref name="partition"/> must be re-read to rebuild the state that is not
    /// yet in any written row: the first offset of its oldest open session or window, else
    /// <paramref name="nextOffset"/>. Committing this (after the drained rows are durable) loses nothing.
    /// </summary>
    public long CommittableOffset(int partition, long nextOffset)
    {
        var min = nextOffset;
        if (_partitions.TryGetValue(partition, out var state))
        {
            foreach (var session in state.Sessions.Values) min = Math.Min(min, session.FirstOffset);
        }
        if (_engagement.MinOpenOffset(partition) is { } windowOffset) min = Math.Min(min, windowOffset);
        return min;
    }

    /// <summary>Forgets a revoked partition; its next owner rebuilds the state from the committed offset.</summary>
    public void DropPartition(int partition)
    {
        if (_partitions.Remove(partition, out var state))
        {
            _partitionList.Remove(state);
            _clockLayout++;
            Volatile.Write(ref _openSessions, _openSessions - state.Sessions.Count);
            AddSessionStateBytes(-state.Sessions.Values.Sum(s => s.EstimatedBytes));
        }
        _engagement.DropPartition(partition);
    }

    /// <summary>Timed out on its app's event time, or idle on record time (the bound for apps that went quiet).</summary>
    private bool IsExpired(PartitionState state, SessionState session, DateTimeOffset appWatermark) =>
        SessionExpiry.IsExpired(appWatermark, session.LastEventAt, _settings.SessionTimeout)
        || SessionExpiry.IsIdle(state.RecordClock, session.LastRecordAt, _settings.SessionTimeout);

    /// <summary>The clock that expires <paramref name="appId"/>'s sessions on this partition: its own, or the shared one past the cap.</summary>
    private static DateTimeOffset WatermarkOf(PartitionState state, string appId) =>
        state.Apps.TryGetValue(appId, out var clock) ? clock.Watermark : state.Watermark;

    /// <summary>
    /// The app's clock on this partition, created on its first event there. The table is capped
    /// (<see cref="ExtractionSettings.MaxAppClocksPerPartition"/>) because app ids come from senders: when it is
    /// full, the clock of the app with no open session here that was active least recently is given up; when every
    /// app holds an open session, the event's app goes without a clock (null: it is expired on the partition's
    /// shared clock, the behaviour before per-app clocks) and the hit is counted.
    /// </summary>
    private AppClock? AppClockFor(PartitionState state, string appId)
    {
        state.Sequence++;
        if (state.Apps.TryGetValue(appId, out var clock))
        {
            clock.LastActive = state.Sequence;
            return clock;
        }
        if (state.Apps.Count >= _settings.MaxAppClocksPerPartition)
        {
            string? idle = null;
            long oldest = long.MaxValue;
            foreach (var (id, candidate) in state.Apps)
            {
                if (candidate.OpenSessions == 0 && candidate.LastActive < oldest)
                {
                    idle = id;
                    oldest = candidate.LastActive;
                }
            }
            if (idle is null)
            {
                Counters.AppClocksOverCap++;
                return null;
            }
            state.Apps.Remove(idle);
        }
        clock = new AppClock { Watermark = DateTimeOffset.MinValue, LastActive = state.Sequence };
        state.Apps[appId] = clock;
        _clockLayout++;
        return clock;
    }

    private void ResolveSession(PartitionState state, (string AppId, string SessionId) key, SessionState session)
    {
        // A cut session was resolved when it was cut; what remains is its marker.
        if (session.CutReason is null) _rules.Resolve(session);
        if (state.Sessions.Remove(key))
        {
            Volatile.Write(ref _openSessions, _openSessions - 1);
            AddSessionStateBytes(-session.EstimatedBytes);
            // A session opened while its app had no clock here is not counted in a clock opened later: never below zero.
            if (state.Apps.TryGetValue(key.AppId, out var clock) && clock.OpenSessions > 0) clock.OpenSessions--;
        }
    }

    /// <summary>
    /// Resolves a session over its budget on what it holds, then keeps an empty marker in its place with the same
    /// first offset: the key's further events are ignored until the marker expires, and the commit stays behind
    /// the session's first record, so a replay rebuilds it and cuts it at the same event.
    /// </summary>
    private void Cut(PartitionState state, (string AppId, string SessionId) key, SessionState session, string reason)
    {
        _rules.Resolve(session);
        if (reason == SessionBudget.EntriesReason) Counters.SessionsCutOverEntries++;
        else Counters.SessionsCutOverBytes++;
        var marker = new SessionState(key.AppId, key.SessionId, session.FirstOffset, session.LastEventAt, session.Rules) { CutReason = reason, LastRecordAt = session.LastRecordAt };
        state.Sessions[key] = marker;
        AddSessionStateBytes(marker.EstimatedBytes - session.EstimatedBytes);
    }

    /// <summary>
    /// All open sessions together are over <see cref="ExtractionSettings.MaxSessionStateBytes"/>: resolves the least
    /// recently active (event time; ties by partition and first offset, so one state always evicts the same ones)
    /// until the estimate is back under <see cref="SessionBudget.EvictionTarget"/>.
    /// </summary>
    private void EvictForMemory()
    {
        var target = SessionBudget.EvictionTarget(_settings.MaxSessionStateBytes);
        var byActivity = _partitions
            .SelectMany(p => p.Value.Sessions.Select(s => (Partition: p.Key, State: p.Value, s.Key, Session: s.Value)))
            .OrderBy(s => s.Session.LastEventAt).ThenBy(s => s.Partition).ThenBy(s => s.Session.FirstOffset)
            .ToList();
        foreach (var (_, state, key, session) in byActivity)
        {
            if (Volatile.Read(ref _sessionStateBytes) <= target) return;
            ResolveSession(state, key, session);
            Counters.SessionsEvictedForMemory++;
        }
    }

    private void AddSessionStateBytes(long delta) => Volatile.Write(ref _sessionStateBytes, _sessionStateBytes + delta);

    private void EvictLeastRecentlyActive(PartitionState state)
    {
        // Resolve the least recently active 1% at once so the sort is amortized over many new sessions.
        var count = Math.Max(1, state.Sessions.Count / 100);
        foreach (var (key, session) in state.Sessions.OrderBy(s => s.Value.LastEventAt).Take(count).ToList())
        {
            ResolveSession(state, key, session);
            Counters.SessionsEvictedAtCapacity++;
        }
    }

    private void CountEngagement(SessionState session, FeedbackEvent evt, int partition, long offset, DateTimeOffset? recordTime)
    {
        if (evt.Data is SessionEnded) return;
        if (evt.Data is ComparisonChosen chosen)
        {
            if (session.ShownIfAny is not { } shownAll || !shownAll.TryGetValue(chosen.ChosenGenerationId, out var winner))
            {
                Counters.UnattributedEngagementEvents++;
                return;
            }
            _engagement.Add(session.AppId, winner, evt.OccurredAt, partition, session.FirstOffset, recordTime, EngagementMetric.ComparisonsWon);
            if (session.CandidateSetsIfAny?.TryGetValue(chosen.CandidateSetId, out var members) == true)
            {
                foreach (var member in members)
                {
                    if (member != winner.GenerationId)
                        _engagement.Add(session.AppId, shownAll[member], evt.OccurredAt, partition, session.FirstOffset, recordTime, EngagementMetric.ComparisonsLost);
                }
            }
            return;
        }

        var generationId = evt.Data.SubjectGenerationId!;
        if (session.ShownIfAny is not { } shown || !shown.TryGetValue(generationId, out var generation))
        {
            Counters.UnattributedEngagementEvents++;
            return;
        }
        var metric = evt.Data switch
        {
            GenerationShown => EngagementMetric.Shown,
            ThumbGiven { Value: ThumbValue.Up } => EngagementMetric.ThumbsUp,
            ThumbGiven => EngagementMetric.ThumbsDown,
            GenerationRegenerated => EngagementMetric.Regenerated,
            GenerationEdited => EngagementMetric.Edited,
            GenerationCopied => EngagementMetric.Copied,
            GenerationAccepted => EngagementMetric.Accepted,
            GenerationRejected => EngagementMetric.Rejected,
            GenerationDwell => EngagementMetric.Dwell,
            _ => (EngagementMetric?)null,
        };
        if (metric is { } m)
            _engagement.Add(session.AppId, generation, evt.OccurredAt, partition, session.FirstOffset, recordTime, m, (evt.Data as GenerationDwell)?.VisibleMs ?? 0);
    }

    private PartitionState Partition(int partition)
    {
        if (!_partitions.TryGetValue(partition, out var state))
        {
            state = new PartitionState(_settings.DeduplicationWindow);
            _partitions[partition] = state;
            _partitionList.Add(state);
            _clockLayout++;
        }
        return state;
    }

    private sealed class PartitionState(int deduplicationWindow)
    {
        public Dictionary<(string AppId, string SessionId), SessionState> Sessions { get; } = [];
        public DeduplicationWindow Deduplication { get; } = new(deduplicationWindow);
        /// <summary>The latest event time read from the partition, over all apps: the shared clock.</summary>
        public DateTimeOffset Watermark { get; set; } = DateTimeOffset.MinValue;
        /// <summary>Each app's own clock on this partition (at most <see cref="ExtractionSettings.MaxAppClocksPerPartition"/>).</summary>
        public Dictionary<string, AppClock> Apps { get; } = new(StringComparer.Ordinal);
        /// <summary>Events offered to the partition so far: the order "least recently active" is judged by (event
        /// time is the sender's, so it cannot rank apps against each other).</summary>
        public long Sequence { get; set; }
        /// <summary>The latest record time read from the partition (see <see cref="SessionExpiry.IsIdle"/>).</summary>
        public DateTimeOffset RecordClock { get; set; } = DateTimeOffset.MinValue;
        public bool CaughtUp { get; set; }
        /// <summary>The size of the partition's last checkpoint body, which sizes the next one's buffer (0: none yet).</summary>
        public long LastCheckpointBytes { get; set; }
    }

    /// <summary>
    /// One app's clocks, one per partition of <see cref="_partitionList"/> (null where it has none), and its witness: the
    /// index of the partition that gave the minimum at the app's last watermark scan, or -1 (no scan yet, or none was
    /// being read). Built for one partition layout and dropped with it, so an index always names the same partition.
    /// </summary>
    private sealed class AppClocks(AppClock?[] clocks)
    {
        public AppClock?[] Clocks { get; } = clocks;
        public int Witness { get; set; } = -1;
    }

    /// <summary>One app's event time on one partition: the latest occurred_at of its events there (never moves back).</summary>
    private sealed class AppClock
    {
        public DateTimeOffset Watermark { get; set; }
        public int OpenSessions { get; set; }
        public long LastActive { get; set; }
    }
}
