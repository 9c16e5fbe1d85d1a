namespace FeedbackLoop.Contracts.Datasets;

/// <summary>The dataset kinds and their folder names under <c>&lt;data&gt;/datasets/&lt;app_id&gt;/</c>.</summary>
public static class DatasetKinds
{
    /// <summary>Preference pairs (prompt, chosen, rejected): TRL's conversational preference format.</summary>
    public const string PreferencePairs = "preference-pairs";
    /// <summary>Unpaired labels (prompt, completion, label): TRL's KTO/BCO format.</summary>
    public const string FeedbackLabels = "feedback-labels";
    /// <summary>Engagement counts per model version, variant and one-minute event-time window.</summary>
    public const string Engagement = "engagement";
}

/// <summary>The <c>signal</c> values of preference pairs (rules 1–4 of docs/contract/rules.md).</summary>
public static class PairSignals
{
    /// <summary>Rule 1: a side-by-side choice.</summary>
    public const string Comparison = "comparison";
    /// <summary>Rule 2: the user's edit preferred over the original.</summary>
    public const string Edit = "edit";
    /// <summary>Rule 3: the end of a regenerate chain that got a positive signal.</summary>
    public const string Regenerate = "regenerate";
    /// <summary>Rule 4: thumb up vs thumb down on the same input.</summary>
    public const string Thumbs = "thumbs";
}

/// <summary>
/// One preference pair row. For edit pairs <c>ChosenGenerationId</c> is the edit event's <c>event_id</c> and
/// <c>ChosenModelVersion</c> is <see cref="UserEditModelVersion"/>; <c>CreatedAt</c> is the event time of
/// the signal that fired the rule.
/// </summary>
public sealed record PreferencePair(
    string PairId,
    string AppId,
    IReadOnlyList<ChatMessage> Prompt,
    ChatMessage Chosen,
    ChatMessage Rejected,
    string Signal,
    double Weight,
    string ChosenGenerationId,
    string RejectedGenerationId,
    string ChosenModelVersion,
    string RejectedModelVersion,
    string SessionId,
    string UserId,
    DateTimeOffset CreatedAt)
{
    /// <summary>The <c>chosen_model_version</c> of edit pairs, whose chosen text was written by the user.</summary>
    public const string UserEditModelVersion = "user-edit";
}

/// <summary>One unpaired label row (rule 5).</summary>
public sealed record FeedbackLabel(
    string LabelId,
    string AppId,
    IReadOnlyList<ChatMessage> Prompt,
    ChatMessage Completion,
    bool Label,
    string GenerationId,
    string ModelVersion,
    string SessionId,
    string UserId,
    DateTimeOffset CreatedAt);

/// <summary>
/// Engagement of one (model version, variant) in one event-time window. <c>Variant</c> is the empty string
/// when the generations had none; <c>DwellSamples</c> counts dwell events, and the percentiles are computed
/// over at most the extractor's per-window sample cap of them from each partition (docs/contract/engagement.md, "Dwell").
/// </summary>
public sealed record EngagementWindow(
    string WindowId,
    string AppId,
    string ModelVersion,
    string Variant,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    long Shown,
    long ThumbsUp,
    long ThumbsDown,
    long Regenerated,
    long Edited,
    long Copied,
    long Accepted,
    long Rejected,
    long ComparisonsWon,
    long ComparisonsLost,
    long DwellSamples,
    double? DwellP50Ms,
    double? DwellP90Ms,
    double? DwellP99Ms);
