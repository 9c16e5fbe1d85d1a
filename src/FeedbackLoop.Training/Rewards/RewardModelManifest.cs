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
    /// <summary>
    /// True when the model featurizes each line on its own (<see cref="RewardTrainingOptions.NgramsWithinLines"/>); then
    /// the format is <see cref="LinesFormat"/>. A manifest written before the setting existed has no such field and reads
    /// as false: those models score as they did.
    /// </summary>
    [JsonPropertyName("ngrams_within_lines")]
    public bool NgramsWithinLines { get; init; }

    /// <summary>The <c>format</c> this code writes and reads; a change to the saved layout needs a new one.</summary>
    public const string CurrentFormat = "feedbackloop.reward-model.v1";

    /// <summary>
    /// The <c>format</c> of a model that featurizes line by line. Its zip has the same layout as v1, but a build that knew
    /// only v1 would feed it whole responses and score them wrongly without a word, so it gets a format of its own, which
    /// such a build refuses.
    /// </summary>
    public const string LinesFormat = "feedbackloop.reward-model.v2-lines";

    /// <summary>The format a model with these settings is saved in.</summary>
    public static string FormatFor(bool ngramsWithinLines) => ngramsWithinLines ? LinesFormat : CurrentFormat;
}
