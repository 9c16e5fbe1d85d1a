using System.Text.Json;
using FeedbackLoop.Contracts;
using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// A trained linear reward model: the score of a response is w·features(response), higher meaning more preferred.
/// Scores are only comparable between responses to the same prompt under the same model. Thread-safe: concurrent
/// <see cref="Score"/> calls each use their own pooled ML.NET engine.
/// </summary>
public sealed class RewardModel
{
    /// <summary>File name of the ML.NET model zip (featurizer and linear model) inside a saved model's directory.</summary>
    public const string ModelFileName = "model.zip";

    /// <summary>File name of the metadata inside a saved model's directory; written last, so its presence means a complete model.</summary>
    public const string ManifestFileName = "reward-model.json";

    private static readonly JsonSerializerOptions ManifestJson = new() { WriteIndented = true };

    private readonly ResponseFeaturizer _featurizer;
    // Featurizer + linear model as one ML.NET model; kept only to be saved.
    private readonly ITransformer _chain;
    // w, dense over the feature space: the score is a sparse-times-dense dot product with no lookups.
    private readonly float[] _weights;
    private readonly RewardModelManifest _manifest;

    internal RewardModel(ResponseFeaturizer featurizer, ITransformer chain, float[] weights, RewardModelManifest manifest)
    {
        _featurizer = featurizer;
        _chain = chain;
        _weights = weights;
        _manifest = manifest;
    }

    /// <summary>The model version given in <see cref="RewardTrainingOptions.Version"/> (kept through save and load).</summary>
    public string Version => _manifest.Version;

    /// <summary>Number of distinct preference pairs the model was trained on.</summary>
    public int TrainedPairs => _manifest.TrainedPairs;

    /// <summary>
    /// The reward of <paramref name="response"/> as an answer to <paramref name="prompt"/>. This model scores the response
    /// text only (see <see cref="RewardModelTrainer"/> for why); the prompt is part of the signature so richer models keep it.
    /// </summary>
    public double Score(IReadOnlyList<ConversationTurn> prompt, string response)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(response);
        return _featurizer.Dot(response, _weights);
    }

    /// <summary>
    /// Writes <see cref="ModelFileName"/> and then <see cref="ManifestFileName"/> into <paramref name="directory"/>
    /// (created if missing), each through a temporary file, flushed to disk and renamed into place.
    /// </summary>
    public async Task SaveAsync(string directory, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);

        using var zip = new MemoryStream();
        _featurizer.Save(_chain, zip);
        await WriteDurablyAsync(Path.Combine(directory, ModelFileName), zip.ToArray(), cancellationToken).ConfigureAwait(false);

        var json = JsonSerializer.SerializeToUtf8Bytes(_manifest, ManifestJson);
        await WriteDurablyAsync(Path.Combine(directory, ManifestFileName), json, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads a model written by <see cref="SaveAsync"/>; it gives the same scores as the model that was saved.</summary>
    /// <exception cref="FileNotFoundException">A file of the model is missing.</exception>
    /// <exception cref="InvalidDataException">The files are not a reward model of this format, or do not match each other.</exception>
    public static async Task<RewardModel> LoadAsync(string directory, CancellationToken cancellationToken = default)
    {
        var json = await File.ReadAllBytesAsync(Path.Combine(directory, ManifestFileName), cancellationToken).ConfigureAwait(false);
        var manifest = JsonSerializer.Deserialize<RewardModelManifest>(json, ManifestJson);
        if (manifest is null || manifest.Version is null
            || manifest.Format != RewardModelManifest.FormatFor(manifest.NgramsWithinLines))
        {
            throw new InvalidDataException(
                $"{ManifestFileName} in '{directory}' is not a {RewardModelManifest.CurrentFormat} or {RewardModelManifest.LinesFormat} manifest"
                + " (the lines format with ngrams_within_lines true, the other without).");
        }

        var zip = await File.ReadAllBytesAsync(Path.Combine(directory, ModelFileName), cancellationToken).ConfigureAwait(false);
        var mlContext = new MLContext(manifest.Seed);
        using var stream = new MemoryStream(zip, writable: false);
        var loaded = mlContext.Model.Load(stream, out var inputSchema);

        // Expected shape: a chain of [featurizer, calibrated linear binary classifier], as RewardModelTrainer builds it.
        var parts = (loaded as TransformerChain<ITransformer>)?.ToArray() ?? [];
        var linear = parts.Length == 2
            ? (parts[1] as ISingleFeaturePredictionTransformer<object>)?.Model as CalibratedModelParametersBase<LinearBinaryModelParameters, PlattCalibrator>
            : null;
        if (linear is null)
        {
            throw new InvalidDataException($"{ModelFileName} in '{directory}' is not a featurizer followed by a linear reward model.");
        }
        var featurizer = ResponseFeaturizer.FromTransformer(mlContext, parts[0], inputSchema, manifest.NgramsWithinLines);
        if (featurizer.FeatureCount != manifest.FeatureCount)
        {
            throw new InvalidDataException(
                $"The model in '{directory}' has {featurizer.FeatureCount} features but its manifest says {manifest.FeatureCount}.");
        }
        return new RewardModel(featurizer, loaded, DenseWeights(linear.SubModel, featurizer.FeatureCount), manifest);
    }

    /// <summary>The linear model's weights as a dense array over the featurizer's feature space.</summary>
    internal static float[] DenseWeights(LinearBinaryModelParameters linear, int featureCount)
    {
        var weights = new float[featureCount];
        var trained = linear.Weights;
        for (var i = 0; i < weights.Length && i < trained.Count; i++)
        {
            weights[i] = trained[i];
        }
        return weights;
    }

    private static async Task WriteDurablyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            // The vocabulary and weights are made of users' words: the owner's alone (the rename keeps the mode).
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var file = new FileStream(temporary, options);
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
