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

    public Dictionary<string, ShownGeneration> Shown { get; } = new(StringComparer.Ordinal);

    /// <summary>Final thumb per (generation id, user id).</summary>
    public Dictionary<(string GenerationId, string UserId), FinalFeedback> Thumbs { get; } = [];

    /// <summary>Final rating per (generation id, user id); a rating of 3 is stored as neither.</summary>
    public Dictionary<(string GenerationId, string UserId), (int Score, DateTimeOffset At)> Ratings { get; } = [];

    /// <summary>g → its replacement, and the reverse, for regenerate chains.</summary>
    public Dictionary<string, string> ReplacedBy { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Replaces { get; } = new(StringComparer.Ordinal);

    /// <summary>Generations that got a positive signal: (time, user) of the first one.</summary>
    public Dictionary<string, (DateTimeOffset At, string UserId)> Positive { get; } = new(StringComparer.Ordinal);

    /// <summary>Members of each candidate set, in the order they were shown.</summary>
    public Dictionary<string, List<string>> CandidateSets { get; } = new(StringComparer.Ordinal);

    /// <summary>The chosen generation of each candidate set, with the choice's time and user.</summary>
    public Dictionary<string, (string GenerationId, DateTimeOffset At, string UserId)> Choices { get; } = new(StringComparer.Ordinal);

    /// <summary>Edits waiting for their generation's shown event, by generation id, each list in arrival order. Keyed so
    /// that a shown event finds its own edits without scanning every pending one (which made a session of many
    /// edits for unseen generations quadratic).</summary>
    public Dictionary<string, List<FeedbackEvent>> PendingEdits { get; } = new(StringComparer.Ordinal);

    /// <summary>Edits in <see cref="PendingEdits"/>, over all generations.</summary>
    public int PendingEditCount { get; set; }

    /// <summary>Generation ids over all lists of <see cref="CandidateSets"/>.</summary>
    public int CandidateMemberCount { get; set; }

    /// <summary>Pair ids this session already emitted, so re-evaluating a rule never repeats a row.</summary>
    public HashSet<string> EmittedPairs { get; } = new(StringComparer.Ordinal);

    /// <summary>Pairs emitted per rule (signal), against <see cref="ExtractionSettings.MaxPairsPerSessionPerRule"/>.</summary>
    public Dictionary<string, int> PairsBySignal { get; } = new(StringComparer.Ordinal);

    /// <summary>Rules whose budget already refused a pair here, so each hit is counted once.</summary>
    public HashSet<string> PairBudgetSpent { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Entries this session holds, over every collection above, against <see cref="ExtractionSettings.MaxEntriesPerSession"/>.
    /// Computed from the collections' counts (constant time), so it cannot drift from what is really held.
    /// </summary>
    public int Entries =>
        Shown.Count + Thumbs.Count + Ratings.Count + ReplacedBy.Count + Replaces.Count + Positive.Count
        + CandidateSets.Count + CandidateMemberCount + Choices.Count + PendingEditCount + EmittedPairs.Count;

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
