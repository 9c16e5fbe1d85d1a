using System.Text.Json.Serialization;
using FeedbackLoop.Datasets.Snapshots;
using Parquet.Serialization.Attributes;

namespace FeedbackLoop.Datasets.Export;

/// <summary>
/// A pair as the parquet and arrow exports write it: the preference-pair dataset's columns, the review action in force
/// (<c>none</c> when unreviewed) and, for corrected pairs, the chosen text as extracted.
/// </summary>
internal sealed class ExportPairRow
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
    [JsonPropertyName("review_action"), ParquetRequired] public string ReviewAction { get; set; } = "";
    [JsonPropertyName("original_chosen")] public string? OriginalChosen { get; set; }

    public static ExportPairRow From(ReviewedPair row)
    {
        var p = row.Pair;
        return new ExportPairRow
        {
            PairId = p.PairId, AppId = p.AppId, Prompt = MessageRow.From(p.Prompt), Chosen = MessageRow.From(p.Chosen),
            Rejected = MessageRow.From(p.Rejected), Signal = p.Signal, Weight = p.Weight, ChosenGenerationId = p.ChosenGenerationId,
            RejectedGenerationId = p.RejectedGenerationId, ChosenModelVersion = p.ChosenModelVersion,
            RejectedModelVersion = p.RejectedModelVersion, SessionId = p.SessionId, UserId = p.UserId,
            CreatedAt = PreferencePairRow.Microseconds(p.CreatedAt), ReviewAction = row.ReviewAction, OriginalChosen = row.OriginalChosen,
        };
    }
}
