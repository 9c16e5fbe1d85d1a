namespace FeedbackLoop.Core.Extraction;

/// <summary>What the extractor did and every limit it hit; nothing is dropped without being counted here.</summary>
public sealed class ExtractionCounters
{
    /// <summary>Distinct events processed.</summary>
    public long EventsProcessed { get; internal set; }
    /// <summary>Events skipped because their event_id was already processed.</summary>
    public long DuplicateEvents { get; internal set; }
    /// <summary>Preference pairs emitted (before the dataset-level id check).</summary>
    public long PairsEmitted { get; internal set; }
    /// <summary>Labels emitted (before the dataset-level id check).</summary>
    public long LabelsEmitted { get; internal set; }
    /// <summary>Edits outside the configured edit-distance band (no pair by rule 2).</summary>
    public long EditsOutsideBand { get; internal set; }
    /// <summary>Sessions resolved by <c>session.ended</c>.</summary>
    public long SessionsEnded { get; internal set; }
    /// <summary>Sessions resolved by the inactivity timeout.</summary>
    public long SessionsTimedOut { get; internal set; }
    /// <summary>Sessions resolved early because the partition hit its open-session limit.</summary>
    public long SessionsEvictedAtCapacity { get; internal set; }
    /// <summary>Signals whose generations were never shown before the session resolved.</summary>
    public long SignalsNeverResolved { get; internal set; }
    /// <summary>Shown events not tracked because a session hit its generation limit.</summary>
    public long GenerationsOverSessionLimit { get; internal set; }
    /// <summary>Events that arrived after their engagement window was closed and written.</summary>
    public long LateEngagementEvents { get; internal set; }
    /// <summary>Engagement events about a generation this session never showed (no model version to attribute to).</summary>
    public long UnattributedEngagementEvents { get; internal set; }
    /// <summary>Dwell values beyond the per-window sample cap (counted in the window, not in its percentiles).</summary>
    public long DwellSamplesOverCap { get; internal set; }
    /// <summary>(session, rule) pair budgets exhausted: each hit is one rule that stopped pairing in one session
    /// (<see cref="ExtractionSettings.MaxPairsPerSessionPerRule"/>).</summary>
    public long PairBudgetHits { get; internal set; }
    /// <summary>Engagement windows closed.</summary>
    public long EngagementWindowsClosed { get; internal set; }
    /// <summary>Sessions cut for holding more than <see cref="ExtractionSettings.MaxEntriesPerSession"/> entries.</summary>
    public long SessionsCutOverEntries { get; internal set; }
    /// <summary>Sessions cut for holding more than <see cref="ExtractionSettings.MaxSessionBytes"/> (estimated).</summary>
    public long SessionsCutOverBytes { get; internal set; }
    /// <summary>Events of a cut session that arrived before it expired: counted and ignored.</summary>
    public long EventsIgnoredInCutSessions { get; internal set; }
    /// <summary>Sessions resolved early because all open sessions together held more than
    /// <see cref="ExtractionSettings.MaxSessionStateBytes"/> (estimated).</summary>
    public long SessionsEvictedForMemory { get; internal set; }
    /// <summary>Events whose app found its partition's table of app clocks full of apps with open sessions, so its
    /// sessions there expire on the partition's shared clock (<see cref="ExtractionSettings.MaxAppClocksPerPartition"/>).</summary>
    public long AppClocksOverCap { get; internal set; }
    /// <summary>Edits not measured by rule 2 because the edited text or the original output is longer than
    /// <see cref="ExtractionSettings.MaxEditTextLength"/> (no pair).</summary>
    public long EditsOverTextLimit { get; internal set; }
    /// <summary>Shown generations not added to their candidate set because it already had
    /// <see cref="ExtractionSettings.MaxCandidatesPerSet"/> members (still tracked as shown, never compared).</summary>
    public long CandidatesOverSetLimit { get; internal set; }
}
