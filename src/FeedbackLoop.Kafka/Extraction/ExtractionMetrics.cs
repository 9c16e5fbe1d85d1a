using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The <c>FeedbackLoop.Extraction</c> meter: observable instruments over <see cref="ExtractionProgress"/> and
/// the extractor's open sessions. They are read only when a listener (OpenTelemetry, dotnet-counters)
/// collects, so the consume loop pays nothing per record beyond the interlocked counts it keeps anyway.
/// Tag values come from fixed sets (reason codes, dataset kinds, partition numbers), never from records.
/// </summary>
internal sealed class ExtractionMetrics : IDisposable
{
    // The dead-letter reason for people can quote the record (an unknown field's name), so the tag is the
    // rejection's kind, from a fixed set of codes; the pairs are built once, not per collection.
    private static readonly (EventRejectionKind Kind, KeyValuePair<string, object?> Tag)[] Reasons =
    [
        (EventRejectionKind.InvalidField, Reason("invalid_field")),
        (EventRejectionKind.NotJson, Reason("not_json")),
        (EventRejectionKind.TooLarge, Reason("too_large")),
        (EventRejectionKind.UnsupportedVersion, Reason("unsupported_version")),
        (EventRejectionKind.UnknownType, Reason("unknown_type")),
        (EventRejectionKind.Empty, Reason("empty")),
        (EventRejectionKind.KeyMismatch, Reason("key_mismatch")),
        (EventRejectionKind.EventTimeOutOfRange, Reason("event_time_out_of_range")),
        (EventRejectionKind.InternalError, Reason("internal_error")),
    ];

    private static readonly KeyValuePair<string, object?> PairsTag = new("dataset", DatasetKinds.PreferencePairs);
    private static readonly KeyValuePair<string, object?> LabelsTag = new("dataset", DatasetKinds.FeedbackLabels);
    private static readonly KeyValuePair<string, object?> EngagementTag = new("dataset", DatasetKinds.Engagement);

    // Why a session was cut or resolved early for memory: its own entry or byte budget, or the extractor's.
    private static readonly KeyValuePair<string, object?> CutForEntries = new("reason", "entries");
    private static readonly KeyValuePair<string, object?> CutForBytes = new("reason", "bytes");
    private static readonly KeyValuePair<string, object?> CutForMemory = new("reason", "memory");

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?>[] _consumer;

    public ExtractionMetrics(
        ExtractionProgress progress, Func<int> openSessions, Func<long> pairBudgetHits, IMeterFactory? factory,
        ExtractionCounters counters, Func<long> sessionStateBytes, int? consumer = null)
    {
        // Several loops in one process (extract --consumers) each report under their own consumer tag, so their series add up
        // instead of colliding.
        _consumer = consumer is { } c ? [new KeyValuePair<string, object?>("consumer", c.ToString(System.Globalization.CultureInfo.InvariantCulture))] : [];
        var version = typeof(ExtractionMetrics).Assembly.GetName().Version?.ToString();
        // The tag is part of a factory's cache key too: each loop gets a meter of its own, which it may dispose when it ends.
        _meter = factory?.Create(new MeterOptions(ExtractionTelemetry.MeterName) { Version = version, Tags = _consumer })
            ?? new Meter(ExtractionTelemetry.MeterName, version, _consumer);

        Counter("feedbackloop.extraction.events_read", "Kafka records read from the events topic, valid or not", () => progress.RecordsRead, "{record}");
        Counter("feedbackloop.extraction.events_processed", "Valid events the extractor applied", () => progress.EventsProcessed);
        Counter("feedbackloop.extraction.events_duplicate", "Valid events skipped because their event_id was already applied", () => progress.DuplicateEvents);
        _meter.CreateObservableCounter("feedbackloop.extraction.events_dead_lettered",
            () => Reasons.Select(r => Measure(progress.DeadLetteredFor(r.Kind), r.Tag)),
            "{record}", "Records sent to the dead-letter topic, by reason code");
        _meter.CreateObservableCounter<long>("feedbackloop.extraction.rows_written",
            () => [Measure(progress.PairsWritten, PairsTag), Measure(progress.LabelsWritten, LabelsTag), Measure(progress.WindowsWritten, EngagementTag)],
            "{row}", "Rows made durable in the Parquet datasets, by dataset");
        Counter("feedbackloop.extraction.traceparent_invalid", "Records whose traceparent header was malformed (ignored)", () => progress.InvalidTraceParents, "{record}");
        Counter("feedbackloop.extraction.trace_links_dropped", "Traced records a commit span could not link (over the cap)", () => progress.TraceLinksDropped, "{record}");
        // A long read from the metrics thread while the consume thread counts: 64-bit reads do not tear, and a
        // value one hit behind is fine for a counter.
        Counter("feedbackloop.extraction.pair_budget_hits", "Sessions in which a preference rule reached its pair budget and stopped pairing", pairBudgetHits, "{hit}");
        _meter.CreateObservableCounter("feedbackloop.extraction.records_lost",
            () => progress.RecordsLostByPartition.Select(l => Measure(l.Value, new KeyValuePair<string, object?>("partition", l.Key))),
            "{record}", "Records the broker deleted (retention, the embedded cluster's cap) before this data folder handled them, per partition");
        _meter.CreateObservableGauge("feedbackloop.extraction.consumer_lag",
            () => progress.ConsumerLag.Select(l => Measure(l.Lag, new KeyValuePair<string, object?>("partition", l.Partition))),
            "{record}", "Records in the log beyond the extractor's position (high watermark − position), per partition, as of the last flush");
        _meter.CreateObservableUpDownCounter("feedbackloop.extraction.open_sessions", () => Measure((long)openSessions()),
            "{session}", "Sessions whose state the extractor holds (their records are re-read after a restart)");
        _meter.CreateObservableGauge("feedbackloop.extraction.oldest_uncommitted_offset_age", () => Measure(progress.OldestUncommittedAge.TotalSeconds),
            "s", "How long the oldest record read but not yet through a completed write-and-commit has waited");
        // Session budgets (ExtractionSettings.MaxEntriesPerSession, MaxSessionBytes, MaxSessionStateBytes).
        _meter.CreateObservableCounter<long>("feedbackloop.extraction.sessions_cut",
            () => [Measure(counters.SessionsCutOverEntries, CutForEntries), Measure(counters.SessionsCutOverBytes, CutForBytes),
                Measure(counters.SessionsEvictedForMemory, CutForMemory)],
            "{session}", "Sessions cut over their entry or byte budget, or resolved early because all sessions were over the memory budget, by reason");
        Counter("feedbackloop.extraction.cut_session_events_ignored", "Events of a cut session that arrived before it expired (ignored)", () => counters.EventsIgnoredInCutSessions);
        _meter.CreateObservableGauge("feedbackloop.extraction.session_state_bytes", () => Measure(sessionStateBytes()),
            "By", "Estimated heap held by open sessions, against ExtractionSettings.MaxSessionStateBytes");

        // Read like pair_budget_hits: 64-bit reads of counters only the consume thread writes.
        Counter("feedbackloop.extraction.app_clocks_over_cap", "Events whose app found its partition's table of app clocks full, so its sessions there expire on the shared clock",
            () => counters.AppClocksOverCap);
        Counter("feedbackloop.extraction.candidates_over_set_limit", "Shown generations not added to their candidate set because it was full (MaxCandidatesPerSet)",
            () => counters.CandidatesOverSetLimit);
        Counter("feedbackloop.extraction.edits_over_text_limit", "Edits not measured by the edit rule because a text is longer than the limit",
            () => counters.EditsOverTextLimit);
        // Dead letters exactly once (ADR 0012).
        Counter("feedbackloop.extraction.dead_letters_already_sent", "Invalid records of a replay not dead-lettered again: their dead letter was in the dead-letter topic's tail",
            () => progress.DeadLettersAlreadySent, "{record}");
        Counter("feedbackloop.extraction.dead_letter_tail_records_read", "Records of the dead-letter topic read at partition assignments to find dead letters already sent",
            () => progress.DeadLetterTailRecordsRead, "{record}");
        Counter("feedbackloop.extraction.dead_letter_scan_limit_hits", "Assignments whose read of the dead-letter topic's tail stopped at DeadLetterScanLimit (dead letters may be sent again)",
            () => progress.DeadLetterScanLimitHits, "{hit}");
        Counter("feedbackloop.extraction.commits_refused_by_rebalance", "Commits the group refused while it rebalanced (rows written; the next owner skips them on re-read)",
            () => progress.CommitsRefusedByRebalance, "{commit}");
        // Partition checkpoints (ADR 0014).
        Counter("feedbackloop.extraction.checkpoints_written", "Partition checkpoints written and committed with their offsets",
            () => progress.CheckpointsWritten, "{checkpoint}");
        Counter("feedbackloop.extraction.checkpoints_loaded", "Partition checkpoints restored at assignments (the partition resumed at its committed offset)",
            () => progress.CheckpointsLoaded, "{checkpoint}");
        _meter.CreateObservableCounter("feedbackloop.extraction.checkpoints_discarded",
            () => progress.CheckpointsDiscarded.Select(d => Measure(d.Value, new KeyValuePair<string, object?>("reason", d.Key))),
            "{checkpoint}", "Checkpoints not loaded at an assignment, or not written (too large), by reason; the state is rebuilt by re-reading");

        void Counter(string name, string description, Func<long> read, string unit = "{event}") =>
            _meter.CreateObservableCounter(name, () => Measure(read()), unit, description);
    }

    private Measurement<T> Measure<T>(T value) where T : struct => new(value, _consumer);

    private Measurement<T> Measure<T>(T value, KeyValuePair<string, object?> tag) where T : struct =>
        _consumer.Length == 0 ? new(value, tag) : new(value, tag, _consumer[0]);

    public void Dispose() => _meter.Dispose();

    private static KeyValuePair<string, object?> Reason(string code) => new("reason", code);

    /// <summary>Adds the count of events of apps no pipeline registers (no app id tag: the ids are the senders' choice).</summary>
    public void ObserveUnregisteredApps(UnregisteredApps apps) =>
        _meter.CreateObservableCounter("feedbackloop.extraction.unregistered_app_events", () => Measure(apps.Events), "{event}",
            "Events of app ids the pipeline does not register: extracted, never trained on (each id is logged once)");
}
