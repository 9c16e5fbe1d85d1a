namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The extractors' knobs. Defaults are those of docs/contract/rules.md, "Settings"; pipelines (<c>pipelines/*.yaml</c>) may change
/// weights and switch rules off per app (<see cref="Rules"/>). Every bound here is a limit whose hits are counted in <see cref="ExtractionCounters"/>.
/// </summary>
public sealed record ExtractionSettings
{
    /// <summary>A session with no event for this long (event time) is resolved.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Edit pairs only when the normalized edit distance is at least this (smaller is a typo fix).</summary>
    public double MinEditDistance { get; init; } = 0.05;

    /// <summary>Edit pairs only when the normalized edit distance is at most this (larger is a rewrite).</summary>
    public double MaxEditDistance { get; init; } = 0.80;

    /// <summary>Open sessions kept per partition; past it the least recently active are resolved early.</summary>
    public int MaxOpenSessionsPerPartition { get; init; } = 100_000;

    /// <summary>Generations remembered per session; shown events past it are not tracked.</summary>
    public int MaxGenerationsPerSession { get; init; } = 10_000;

    /// <summary>Event ids remembered per partition for de-duplication (oldest forgotten first).</summary>
    public int DeduplicationWindow { get; init; } = 200_000;

    /// <summary>Engagement window length (event time).</summary>
    public TimeSpan EngagementWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long after its end a window still takes late events before it is closed and written.</summary>
    public TimeSpan EngagementAllowedLateness { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Dwell values kept per window for percentiles; further values are counted, not kept.</summary>
    public int MaxDwellSamplesPerWindow { get; init; } = 10_000;

    /// <summary>
    /// How far <c>occurred_at</c> may lie ahead of the record's time (see <see cref="EventTimeCheck"/>) before the
    /// record is dead-lettered. Client clocks drift; five minutes covers ordinary drift, while an event dated in
    /// the far future would otherwise move the watermarks and pin windows open forever.
    /// </summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far <c>occurred_at</c> may lie behind the record's time; older records are dead-lettered. Null (the
    /// default) accepts any age: simulations, backfills and long-offline SDK spools legitimately produce old
    /// events today. Production deployments should set it (30 days is a sensible value).
    /// </summary>
    public TimeSpan? MaxEventAge { get; init; }

    /// <summary>
    /// Pairs one rule may emit per session. Rules that pair every signal with every other (thumbs contrast:
    /// ups × downs) would otherwise let one session of 2,001 events make 250,000 pairs; past the budget the rule
    /// emits nothing more for that session and the hit is counted (<see cref="ExtractionCounters.PairBudgetHits"/>).
    /// </summary>
    public int MaxPairsPerSessionPerRule { get; init; } = 32;

    /// <summary>
    /// Entries one session may hold (shown generations, thumbs, ratings, chain links, positives, candidate set
    /// members, choices, pending edits, emitted pair ids). A busy real session holds a few hundred; past the budget
    /// the session is cut (<see cref="SessionBudget"/>, docs/contract/rules.md "Session budgets") and counted in
    /// <see cref="ExtractionCounters.SessionsCutOverEntries"/>.
    /// </summary>
    public int MaxEntriesPerSession { get; init; } = 50_000;

    /// <summary>
    /// Estimated heap one session may hold. Prompts repeat the conversation in every shown event, so a long chat
    /// of large prompts reaches a few MiB; past the budget the session is cut and counted in
    /// <see cref="ExtractionCounters.SessionsCutOverBytes"/>. Without it, 20,000 pending edits of 32 KiB held 1.2 GB.
    /// </summary>
    public long MaxSessionBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>
    /// Estimated heap of all open sessions of one extractor, over every partition it reads. Past it the least
    /// recently active sessions are resolved early until the estimate is back under 90% of it, and each is counted
    /// in <see cref="ExtractionCounters.SessionsEvictedForMemory"/>.
    /// </summary>
    public long MaxSessionStateBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>
    /// Apps whose own event-time clock a partition keeps (issue 10, finding 3: sessions expire, and windows close, on
    /// their own app's clock, so one app's event time cannot end another's sessions). App ids come from senders, so
    /// the table is bounded: when it is full, the clock of the least recently active app with no open session on the
    /// partition is given up; when every app there has an open session, a new app's events go without a clock of their
    /// own and its sessions expire on the partition's shared clock (the latest event time of any app, the behaviour
    /// before per-app clocks). Each such event counts one <see cref="ExtractionCounters.AppClocksOverCap"/>.
    /// </summary>
    public int MaxAppClocksPerPartition { get; init; } = 1_000;

    /// <summary>
    /// Longest text, in UTF-16 code units, that rule 2 measures: an edit whose text or original output is longer
    /// is skipped (no pair; <see cref="ExtractionCounters.EditsOverTextLimit"/>). Levenshtein distance grows with the
    /// product of the two lengths (issue 10, finding 7: two 32k texts took 2.9 s cell by cell); 8,192 covers ordinary
    /// answers and keeps one bounded, bit-parallel measurement in the tens of milliseconds.
    /// </summary>
    public int MaxEditTextLength { get; init; } = 8_192;

    /// <summary>
    /// Which rules each app runs and how its pairs are weighted (pipelines' <c>rules:</c>, per app, with <c>defaults</c> for
    /// apps a pipeline does not list). Every rule on at weight 1.0 for every app unless set. The limits above stay global:
    /// they protect the extractor, whichever app sends the events.
    /// </summary>
    public RuleBook Rules { get; init; } = RuleBook.Builtin;

    /// <summary>
    /// Members one candidate set may hold. Side-by-side comparisons show two to four answers; a sender that names one
    /// set on thousands of shown events would otherwise make every <c>comparison.chosen</c> for it count a loss for each
    /// member (repeated choices add no entries, so no session budget stops that). Shown generations past it are tracked
    /// but not added to the set, and each is counted in <see cref="ExtractionCounters.CandidatesOverSetLimit"/>.
    /// </summary>
    public int MaxCandidatesPerSet { get; init; } = 16;

    /// <summary>
    /// Largest checkpoint of one partition's state (docs/adr/0014-partition-checkpoints.md), in bytes of its serialized form.
    /// The state is shaped by senders, so its checkpoint is bounded twice: what it holds is already bounded by the session
    /// budgets above (open sessions together by <see cref="MaxSessionStateBytes"/>, whose serialized form is smaller than the
    /// estimate, plus the <see cref="DeduplicationWindow"/>'s ids and the open engagement windows), and a checkpoint past this
    /// size is neither written nor loaded: the partition's commit then stays at its oldest open session, as without
    /// checkpoints, and the hit is counted. Twice the default state budget.
    /// </summary>
    public long MaxCheckpointBytes { get; init; } = 1024L * 1024 * 1024;
}
