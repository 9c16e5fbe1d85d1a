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
    IReadOnlyList<ConversationTurn> Prompt,
    ConversationTurn Chosen,
    ConversationTurn Rejected,
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
    IReadOnlyList<ConversationTurn> Prompt,
    ConversationTurn Completion,
    bool Label,
    string GenerationId,
    string ModelVersion,
    string SessionId,
    string UserId,
    DateTimeOffset CreatedAt);

/// <summary>
/// Engagement of one (model version, variant) in one event-time window, as counted from one source partition: a
/// window's total is the sum of its rows over <c>Partition</c> (<see cref="EngagementTotal"/>). Rows are per partition
/// so that whichever extractor instance owns a partition writes the same row with the same id (docs/contract/engagement.md,
/// "Rows per partition"). <c>Variant</c> is the empty string when the generations had none; <c>DwellSamples</c> counts
/// dwell events, and the percentiles are over at most the extractor's per-window sample cap of this partition's values.
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
    double? DwellP99Ms,
    int Partition);

/// <summary>
/// Engagement of one (model version, variant) in one event-time window over every partition: the counts of its
/// <see cref="EngagementWindow"/> rows summed. Percentiles of different partitions do not combine, so a total has none.
/// </summary>
public sealed record EngagementTotal(
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
    int Partitions)
{
    /// <summary>Sums the partition rows of each (app, model version, variant, window start), in that order.</summary>
    public static IReadOnlyList<EngagementTotal> Of(IEnumerable<EngagementWindow> rows)
    {
        var totals = new Dictionary<(string, string, string, DateTimeOffset), EngagementTotal>();
        foreach (var w in rows)
        {
            var key = (w.AppId, w.ModelVersion, w.Variant, w.WindowStart);
            totals[key] = totals.TryGetValue(key, out var t)
                ? t with
                {
                    Shown = t.Shown + w.Shown, ThumbsUp = t.ThumbsUp + w.ThumbsUp, ThumbsDown = t.ThumbsDown + w.ThumbsDown,
                    Regenerated = t.Regenerated + w.Regenerated, Edited = t.Edited + w.Edited, Copied = t.Copied + w.Copied,
                    Accepted = t.Accepted + w.Accepted, Rejected = t.Rejected + w.Rejected, ComparisonsWon = t.ComparisonsWon + w.ComparisonsWon,
                    ComparisonsLost = t.ComparisonsLost + w.ComparisonsLost, DwellSamples = t.DwellSamples + w.DwellSamples, Partitions = t.Partitions + 1,
                }
                : new EngagementTotal(w.AppId, w.ModelVersion, w.Variant, w.WindowStart, w.WindowEnd, w.Shown, w.ThumbsUp, w.ThumbsDown,
                    w.Regenerated, w.Edited, w.Copied, w.Accepted, w.Rejected, w.ComparisonsWon, w.ComparisonsLost, w.DwellSamples, 1);
        }
        return [.. totals.Values.OrderBy(t => t.AppId, StringComparer.Ordinal).ThenBy(t => t.ModelVersion, StringComparer.Ordinal)
            .ThenBy(t => t.Variant, StringComparer.Ordinal).ThenBy(t => t.WindowStart)];
    }
}
