using FeedbackLoop.Contracts;

namespace FeedbackLoop.Core.Extraction;

/// <summary>A generation as it was shown: what the rules need to build rows from it.</summary>
internal sealed record ShownGeneration(
    string GenerationId,
    string ModelVersion,
    string Variant,
    IReadOnlyList<ConversationTurn> Input,
    int InputKey,
    string Output,
    string? CandidateSetId);

/// <summary>The latest thumb or rating of one (generation, user), by occurred_at (ties: the later record wins).</summary>
internal readonly record struct FinalFeedback(bool Positive, DateTimeOffset At, bool IsThumb);

/// <summary>
/// Everything one open session remembers. It lives only until the session resolves, which is what keeps
/// memory proportional to open sessions rather than to history.
/// </summary>
/// <remarks>
/// Each collection is created on its first use through its property: most sessions use a few of the twelve, and
/// sessions stay open across garbage collections, so empty collections made up front were copied from generation to
/// generation for nothing (about 850 B a session, as estimated in docs/BENCHMARKS.md). Code that only reads goes through the
/// <c>…IfAny</c> twin, null while the collection was never used, so reading never creates one.
/// </remarks>
internal sealed class SessionState(string appId, string sessionId, long firstOffset, DateTimeOffset firstEventAt, AppRules rules)
{
    public string AppId { get; } = appId;

    /// <summary>The rules of this session's app, looked up once when it opened (<see cref="RuleBook.For"/>), not per event.</summary>
    public AppRules Rules { get; } = rules;
    public string SessionId { get; } = sessionId;

    /// <summary>Offset of the first event still needed to rebuild this state: offsets below the minimum over
    /// open sessions can be committed.</summary>
    public long FirstOffset { get; } = firstOffset;

    public DateTimeOffset LastEventAt { get; set; } = firstEventAt;

    public Dictionary<string, ShownGeneration> Shown => _shown ??= new(StringComparer.Ordinal);
    public Dictionary<string, ShownGeneration>? ShownIfAny => _shown;
    private Dictionary<string, ShownGeneration>? _shown;

    /// <summary>Final thumb per (generation id, user id).</summary>
    public Dictionary<(string GenerationId, string UserId), FinalFeedback> Thumbs => _thumbs ??= [];
    public Dictionary<(string GenerationId, string UserId), FinalFeedback>? ThumbsIfAny => _thumbs;
    private Dictionary<(string GenerationId, string UserId), FinalFeedback>? _thumbs;

    /// <summary>Final rating per (generation id, user id); a rating of 3 is stored as neither.</summary>
    public Dictionary<(string GenerationId, string UserId), (int Score, DateTimeOffset At)> Ratings => _ratings ??= [];
    public Dictionary<(string GenerationId, string UserId), (int Score, DateTimeOffset At)>? RatingsIfAny => _ratings;
    private Dictionary<(string GenerationId, string UserId), (int Score, DateTimeOffset At)>? _ratings;

    /// <summary>g → its replacement, and the reverse, for regenerate chains.</summary>
    public Dictionary<string, string> ReplacedBy => _replacedBy ??= new(StringComparer.Ordinal);
    public Dictionary<string, string>? ReplacedByIfAny => _replacedBy;
    private Dictionary<string, string>? _replacedBy;
    public Dictionary<string, string> Replaces => _replaces ??= new(StringComparer.Ordinal);
    public Dictionary<string, string>? ReplacesIfAny => _replaces;
    private Dictionary<string, string>? _replaces;

    /// <summary>Generations that got a positive signal: (time, user) of the first one.</summary>
    public Dictionary<string, (DateTimeOffset At, string UserId)> Positive => _positive ??= new(StringComparer.Ordinal);
    public Dictionary<string, (DateTimeOffset At, string UserId)>? PositiveIfAny => _positive;
    private Dictionary<string, (DateTimeOffset At, string UserId)>? _positive;

    /// <summary>Members of each candidate set, in the order they were shown.</summary>
    public Dictionary<string, List<string>> CandidateSets => _candidateSets ??= new(StringComparer.Ordinal);
    public Dictionary<string, List<string>>? CandidateSetsIfAny => _candidateSets;
    private Dictionary<string, List<string>>? _candidateSets;

    /// <summary>The chosen generation of each candidate set, with the choice's time and user.</summary>
    public Dictionary<string, (string GenerationId, DateTimeOffset At, string UserId)> Choices => _choices ??= new(StringComparer.Ordinal);
    public Dictionary<string, (string GenerationId, DateTimeOffset At, string UserId)>? ChoicesIfAny => _choices;
    private Dictionary<string, (string GenerationId, DateTimeOffset At, string UserId)>? _choices;

    /// <summary>Edits waiting for their generation's shown event, by generation id, each list in arrival order. Keyed so
    /// that a shown event finds its own edits without scanning every pending one (which made a session of many
    /// edits for unseen generations quadratic).</summary>
    public Dictionary<string, List<FeedbackEvent>> PendingEdits => _pendingEdits ??= new(StringComparer.Ordinal);
    public Dictionary<string, List<FeedbackEvent>>? PendingEditsIfAny => _pendingEdits;
    private Dictionary<string, List<FeedbackEvent>>? _pendingEdits;

    /// <summary>Edits in <see cref="PendingEdits"/>, over all generations.</summary>
    public int PendingEditCount { get; set; }

    /// <summary>Generation ids over all lists of <see cref="CandidateSets"/>.</summary>
    public int CandidateMemberCount { get; set; }

    /// <summary>Pair ids this session already emitted, so re-evaluating a rule never repeats a row.</summary>
    public HashSet<string> EmittedPairs => _emittedPairs ??= new(StringComparer.Ordinal);
    public HashSet<string>? EmittedPairsIfAny => _emittedPairs;
    private HashSet<string>? _emittedPairs;

    /// <summary>Pairs emitted per rule (signal), against <see cref="ExtractionSettings.MaxPairsPerSessionPerRule"/>.</summary>
    public Dictionary<string, int> PairsBySignal => _pairsBySignal ??= new(StringComparer.Ordinal);
    public Dictionary<string, int>? PairsBySignalIfAny => _pairsBySignal;
    private Dictionary<string, int>? _pairsBySignal;

    /// <summary>Rules whose budget already refused a pair here, so each hit is counted once.</summary>
    public HashSet<string> PairBudgetSpent => _pairBudgetSpent ??= new(StringComparer.Ordinal);
    public HashSet<string>? PairBudgetSpentIfAny => _pairBudgetSpent;
    private HashSet<string>? _pairBudgetSpent;

    /// <summary>
    /// Entries this session holds, over every collection above, against <see cref="ExtractionSettings.MaxEntriesPerSession"/>.
    /// Computed from the collections' counts (constant time), so it cannot drift from what is really held.
    /// </summary>
    public int Entries =>
        (_shown?.Count ?? 0) + (_thumbs?.Count ?? 0) + (_ratings?.Count ?? 0) + (_replacedBy?.Count ?? 0) + (_replaces?.Count ?? 0)
        + (_positive?.Count ?? 0) + (_candidateSets?.Count ?? 0) + CandidateMemberCount + (_choices?.Count ?? 0) + PendingEditCount
        + (_emittedPairs?.Count ?? 0);

    /// <summary>
    /// Estimated bytes of heap this session holds (<see cref="SessionBudget"/>), kept as entries are added and
    /// removed, against <see cref="ExtractionSettings.MaxSessionBytes"/>; starts at the cost of an empty session.
    /// </summary>
    public long EstimatedBytes { get; set; } = SessionBudget.EmptySessionBytes;

    /// <summary>
    /// Why this session was cut (<see cref="SessionBudget"/>), or null while it is not. A cut session holds no
    /// entries: it stays open only as a marker, so its key's further events are ignored (counted) until it
    /// expires and its first offset keeps holding the commit, which makes a replay cut it at the same event.
    /// </summary>
    public string? CutReason { get; init; }
    /// <summary>The latest record time (the Kafka record's timestamp, bounded by the extractor's clock) of the session's
    /// events; null when its records carried none. Bounds how long a session of an app that went quiet stays open.</summary>
    public DateTimeOffset? LastRecordAt { get; set; }
}
