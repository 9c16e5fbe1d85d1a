using System.Text.Json;
using System.Text.Json.Serialization;
using FeedbackLoop.Contracts;
using Microsoft.ML;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// A trained linear reward model: the score of a response is w·features(response), higher meaning more preferred.
/// Scores are only comparable between responses to the same prompt under the same model. Thread-safe: concurrent
/// <see cref="Score"/> calls each use their own pooled ML.NET engine.
/// </summary>
public sealed class RewardModel
{
    /// <summary>File name of the ML.NET featurizer zip inside a saved model's directory.</summary>
    public const string FeaturizerFileName = "featurizer.zip";

    /// <summary>File name of the weights and metadata inside a saved model's directory; written last, so its presence means a complete model.</summary>
    public const string ManifestFileName = "reward-model.json";

    private const string Format = "feedbackloop.reward-model.v1";

    private static readonly JsonSerializerOptions ManifestJson = new() { WriteIndented = false };

    private readonly ResponseFeaturizer _featurizer;
    private readonly float[] _weights;
    private readonly RewardModelInfo _info;

    internal RewardModel(ResponseFeaturizer featurizer, float[] weights, RewardModelInfo info)
    {
        _featurizer = featurizer;
        _weights = weights;
        _info = info;
    }

    /// <summary>The model version given in <see cref="RewardTrainingOptions.Version"/> (kept through save and load).</summary>
    public string Version => _info.Version;

    /// <summary>Number of preference pairs the model was trained on.</summary>
    public int TrainedPairs => _info.TrainedPairs;

    /// <summary>
    /// The reward of <paramref name="response"/> as an answer to <paramref name="prompt"/>. This model scores the response
    /// text only (see <see cref="RewardModelTrainer"/> for why); the prompt is part of the signature so richer models keep it.
    /// </summary>
    public double Score(IReadOnlyList<ChatMessage> prompt, string response)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(response);
        return _featurizer.Dot(response, _weights);
    }

    /// <summary>
    /// Writes <see cref="FeaturizerFileName"/> and then <see cref="ManifestFileName"/> into <paramref name="directory"/>
    /// (created if missing), each through a temporary file, flushed to disk and renamed into place.
    /// </summary>
    public async Task SaveAsync(string directory, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);

        using var zip = new MemoryStream();
        _featurizer.Save(zip);
        await WriteDurablyAsync(Path.Combine(directory, FeaturizerFileName), zip.ToArray(), cancellationToken).ConfigureAwait(false);

        var manifest = new Manifest(Format, _info.Version, _info.Seed, _info.TrainedPairs, _weights.Length, _weights);
        var json = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson);
        await WriteDurablyAsync(Path.Combine(directory, ManifestFileName), json, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads a model written by <see cref="SaveAsync"/>; it gives the same scores as the model that was saved.</summary>
    /// <exception cref="InvalidDataException">The files are not a reward model of this format, or do not match each other.</exception>
    public static async Task<RewardModel> LoadAsync(string directory, CancellationToken cancellationToken = default)
    {
        var json = await File.ReadAllBytesAsync(Path.Combine(directory, ManifestFileName), cancellationToken).ConfigureAwait(false);
        var manifest = JsonSerializer.Deserialize<Manifest>(json, ManifestJson);
        if (manifest is null || manifest.Format != Format || manifest.Weights is null || manifest.Version is null)
        {
            throw new InvalidDataException($"{ManifestFileName} in '{directory}' is not a {Format} manifest.");
        }

        var zip = await File.ReadAllBytesAsync(Path.Combine(directory, FeaturizerFileName), cancellationToken).ConfigureAwait(false);
        var mlContext = new MLContext(manifest.Seed);
        using var stream = new MemoryStream(zip, writable: false);
        var transformer = mlContext.Model.Load(stream, out var inputSchema);
        var featurizer = ResponseFeaturizer.FromTransformer(mlContext, transformer, inputSchema);
        if (featurizer.FeatureCount != manifest.FeatureCount || manifest.Weights.Length != manifest.FeatureCount)
        {
            throw new InvalidDataException(
                $"The featurizer in '{directory}' has {featurizer.FeatureCount} features but the manifest has {manifest.Weights.Length} weights.");
        }
        return new RewardModel(featurizer, manifest.Weights, new RewardModelInfo(manifest.Version, manifest.Seed, manifest.TrainedPairs));
    }

    private static async Task WriteDurablyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// The JSON next to the zip. Weights are written as shortest round-trip floats, so loading restores them bit for bit.
    /// </summary>
    private sealed record Manifest(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("seed")] int Seed,
        [property: JsonPropertyName("trained_pairs")] int TrainedPairs,
        [property: JsonPropertyName("feature_count")] int FeatureCount,
        [property: JsonPropertyName("weights")] float[] Weights);
}
