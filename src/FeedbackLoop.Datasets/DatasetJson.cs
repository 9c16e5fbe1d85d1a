using System.Text.Json;
using System.Text.Json.Serialization;

namespace FeedbackLoop.Datasets;

/// <summary>
/// The JSON of the files this project writes beside the datasets (review log, snapshot manifests): snake_case names, and
/// the default encoder, which writes <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c> and quotes as escapes, so reviewer text pasted
/// into a page or a terminal stays text.
/// </summary>
internal static class DatasetJson
{
    /// <summary>One object per line (the review log).</summary>
    public static JsonSerializerOptions Line { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        RespectNullableAnnotations = true,
    };

    /// <summary>Indented (manifests people read).</summary>
    public static JsonSerializerOptions Indented { get; } = new(Line) { WriteIndented = true };
}
