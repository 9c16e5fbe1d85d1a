using System.Text.Json.Serialization;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using Parquet.Serialization.Attributes;

namespace FeedbackLoop.Datasets;

// Parquet.Net maps these classes to the dataset columns of docs/contract/datasets.md: snake_case names from
// [JsonPropertyName], non-null strings as required columns, List<MessageRow> as a proper nested
// list<struct<role, content>>, and DateTime as INT64 TIMESTAMP(µs, UTC) rather than legacy INT96.

internal sealed class MessageRow
{
    [JsonPropertyName("role"), ParquetRequired] public string Role { get; set; } = "";
    [JsonPropertyName("content"), ParquetRequired] public string Content { get; set; } = "";

    public static List<MessageRow> From(IReadOnlyList<ConversationTurn> messages) =>
        messages.Select(m => new MessageRow { Role = m.Role, Content = m.Content }).ToList();

    public static List<MessageRow> From(ConversationTurn message) => [new MessageRow { Role = message.Role, Content = message.Content }];

    public static IReadOnlyList<ConversationTurn> ToMessages(List<MessageRow>? rows) =>
        (rows ?? []).Select(r => new ConversationTurn(r.Role, r.Content)).ToList();
}

internal sealed class PreferencePairRow
{
    [JsonPropertyName("pair_id"), ParquetRequired] public string PairId { get; set; } = "";
    [JsonPropertyName("app_id"), ParquetRequired] public string AppId { get; set; } = "";
    [JsonPropertyName("prompt")] public List<MessageRow> Prompt { get; set; } = [];
    [JsonPropertyName("chosen")] public List<MessageRow> Chosen { get; set; } = [];
    [JsonPropertyName("rejected")] public List<MessageRow> Rejected { get; set; } = [];
    [JsonPropertyName("signal"), ParquetRequired] public string Signal { get; set; } = "";
    [JsonPropertyName("weight")] public double Weight { get; set; }
    [JsonPropertyName("chosen_generation_id"), ParquetRequired] public string ChosenGenerationId { get; set; } = "";
    [JsonPropertyName("rejected_generation_id"), ParquetRequired] public string RejectedGenerationId { get; set; } = "";
    [JsonPropertyName("chosen_model_version"), ParquetRequired] public string ChosenModelVersion { get; set; } = "";
    [JsonPropertyName("rejected_model_version"), ParquetRequired] public string RejectedModelVersion { get; set; } = "";
    [JsonPropertyName("session_id"), ParquetRequired] public string SessionId { get; set; } = "";
    [JsonPropertyName("user_id"), ParquetRequired] public string UserId { get; set; } = "";
    [JsonPropertyName("created_at"), ParquetTimestamp(ParquetTimestampResolution.Microseconds, true, true)]
    public DateTime CreatedAt { get; set; }

    public PreferencePair ToRecord() => new(
        PairId, AppId, MessageRow.ToMessages(Prompt), MessageRow.ToMessages(Chosen).Single(), MessageRow.ToMessages(Rejected).Single(),
        Signal, Weight, ChosenGenerationId, RejectedGenerationId, ChosenModelVersion, RejectedModelVersion, SessionId, UserId,
        new DateTimeOffset(DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc)));

    /// <summary>The column keeps microseconds; truncating here keeps written and read-back values equal.</summary>
    internal static DateTime Microseconds(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        return new DateTime(utc.Ticks - (utc.Ticks % 10), DateTimeKind.Utc);
    }
}

internal sealed class FeedbackLabelRow
{
    [JsonPropertyName("label_id"), ParquetRequired] public string LabelId { get; set; } = "";
    [JsonPropertyName("app_id"), ParquetRequired] public string AppId { get; set; } = "";
    [JsonPropertyName("prompt")] public List<MessageRow> Prompt { get; set; } = [];
    [JsonPropertyName("completion")] public List<MessageRow> Completion { get; set; } = [];
    [JsonPropertyName("label")] public bool Label { get; set; }
    [JsonPropertyName("generation_id"), ParquetRequired] public string GenerationId { get; set; } = "";
    [JsonPropertyName("model_version"), ParquetRequired] public string ModelVersion { get; set; } = "";
    [JsonPropertyName("session_id"), ParquetRequired] public string SessionId { get; set; } = "";
    [JsonPropertyName("user_id"), ParquetRequired] public string UserId { get; set; } = "";
    [JsonPropertyName("created_at"), ParquetTimestamp(ParquetTimestampResolution.Microseconds, true, true)]
    public DateTime CreatedAt { get; set; }

    public FeedbackLabel ToRecord() => new(
        LabelId, AppId, MessageRow.ToMessages(Prompt), MessageRow.ToMessages(Completion).Single(), Label, GenerationId,
        ModelVersion, SessionId, UserId, new DateTimeOffset(DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc)));
}

internal sealed class EngagementRow
{
    [JsonPropertyName("window_id"), ParquetRequired] public string WindowId { get; set; } = "";
    [JsonPropertyName("app_id"), ParquetRequired] public string AppId { get; set; } = "";
    [JsonPropertyName("model_version"), ParquetRequired] public string ModelVersion { get; set; } = "";
    [JsonPropertyName("variant"), ParquetRequired] public string Variant { get; set; } = "";
    [JsonPropertyName("window_start"), ParquetTimestamp(ParquetTimestampResolution.Microseconds, true, true)]
    public DateTime WindowStart { get; set; }
    [JsonPropertyName("window_end"), ParquetTimestamp(ParquetTimestampResolution.Microseconds, true, true)]
    public DateTime WindowEnd { get; set; }
    [JsonPropertyName("shown")] public long Shown { get; set; }
    [JsonPropertyName("thumbs_up")] public long ThumbsUp { get; set; }
    [JsonPropertyName("thumbs_down")] public long ThumbsDown { get; set; }
    [JsonPropertyName("regenerated")] public long Regenerated { get; set; }
    [JsonPropertyName("edited")] public long Edited { get; set; }
    [JsonPropertyName("copied")] public long Copied { get; set; }
    [JsonPropertyName("accepted")] public long Accepted { get; set; }
    [JsonPropertyName("rejected")] public long Rejected { get; set; }
    [JsonPropertyName("comparisons_won")] public long ComparisonsWon { get; set; }
    [JsonPropertyName("comparisons_lost")] public long ComparisonsLost { get; set; }
    [JsonPropertyName("dwell_samples")] public long DwellSamples { get; set; }
    [JsonPropertyName("dwell_p50_ms")] public double? DwellP50Ms { get; set; }
    [JsonPropertyName("dwell_p90_ms")] public double? DwellP90Ms { get; set; }
    [JsonPropertyName("dwell_p99_ms")] public double? DwellP99Ms { get; set; }
    [JsonPropertyName("partition")] public int Partition { get; set; }

    public EngagementWindow ToRecord() => new(
        WindowId, AppId, ModelVersion, Variant,
        new DateTimeOffset(DateTime.SpecifyKind(WindowStart, DateTimeKind.Utc)), new DateTimeOffset(DateTime.SpecifyKind(WindowEnd, DateTimeKind.Utc)),
        Shown, ThumbsUp, ThumbsDown, Regenerated, Edited, Copied, Accepted, Rejected, ComparisonsWon, ComparisonsLost,
        DwellSamples, DwellP50Ms, DwellP90Ms, DwellP99Ms, Partition);
}
