using System.Text.Json.Serialization;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// The small JSON saved next to the ML.NET zip: what a person or the registry needs to know about a reward model
/// without loading ML.NET. The weights themselves live in the zip, in ML.NET's binary form, so they load bit for bit.
/// </summary>
internal sealed record RewardModelManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("trained_pairs")] int TrainedPairs,
    [property: JsonPropertyName("feature_count")] int FeatureCount,
    [property: JsonPropertyName("word_ngram_length")] int WordNgramLength,
    [property: JsonPropertyName("char_ngram_length")] int CharNgramLength,
    [property: JsonPropertyName("l2_regularization")] float L2Regularization,
    [property: JsonPropertyName("bias")] float Bias)
{
    /// <summary>The <c>format</c> this code writes and reads; a change to the saved layout needs a new one.</summary>
    public const string CurrentFormat = "feedbackloop.reward-model.v1";
}
