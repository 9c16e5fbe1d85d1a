using FeedbackLoop.Contracts.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// Trains a linear reward model on preference pairs (Bradley–Terry): P(chosen ≻ rejected) = σ(w·(x_chosen − x_rejected)),
/// where x is the response's n-gram features. Each pair becomes two rows, the difference with label true and the
/// reversed difference with label false. Feedback labels (a thumbs up or down on one shown response) join as pointwise
/// rows, P(up) = σ(w·x + b), in the same regression: they share w with the pairs, so the far more numerous labels sharpen
/// the same reward, and the bias b absorbs the labels' base rate (the pair rows are symmetric, so they pull b to zero and
/// never need it). Scores ignore b: only differences between responses to one prompt matter.
/// Prompt features are left out on purpose: both responses of a pair share the prompt, so they would cancel in the
/// difference and a linear model could never learn from them.
/// </summary>
public static class RewardModelTrainer
{
    /// <summary>
    /// Trains on the pairs in their given order. Deterministic: the same pairs in the same order with the same options
    /// give a model with identical scores (one optimizer thread, no sampling). A pair id seen twice is the same pair
    /// delivered twice (pair ids are deterministic, see StableId), so only its first occurrence counts.
    /// </summary>
    /// <param name="train">The preference pairs.</param>
    /// <param name="options">The settings.</param>
    /// <param name="labels">
    /// Feedback labels of the same snapshot, each weighted <see cref="RewardTrainingOptions.LabelWeight"/>; none when null.
    /// A label id seen twice counts once, as for pairs.
    /// </param>
    /// <exception cref="ArgumentException">There are no pairs, a pair's weight is negative or not finite, or every weight is zero.</exception>
    public static RewardModel Train(IReadOnlyList<PreferencePair> train, RewardTrainingOptions options, IReadOnlyList<FeedbackLabel>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        Validate(train, options);
        train = [.. train.DistinctBy(p => p.PairId, StringComparer.Ordinal)];
        IReadOnlyList<FeedbackLabel> pointwise = options.LabelWeight > 0 && labels is not null
            ? [.. labels.DistinctBy(l => l.LabelId, StringComparer.Ordinal)]
            : [];

        var mlContext = new MLContext(options.Seed);

        // Each distinct text is featurized once; first-appearance order fixes the vocabulary order.
        var textIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var texts = new List<string>();
        int IndexOf(string text)
        {
            if (!textIndex.TryGetValue(text, out var index))
            {
                index = texts.Count;
                textIndex.Add(text, index);
                texts.Add(text);
            }
            return index;
        }
        var sides = train.Select(p => (Chosen: IndexOf(p.Chosen.Content), Rejected: IndexOf(p.Rejected.Content))).ToArray();
        var labelled = pointwise.Select(l => IndexOf(l.Completion.Content)).ToArray();

        var featurizer = ResponseFeaturizer.Fit(mlContext, texts, options);
        var features = featurizer.FeaturizeAll(texts);

        var recency = RecencyWeights.Of(options.RecencyHalfLife, train.Select(p => p.CreatedAt).Concat(pointwise.Select(l => l.CreatedAt)));
        var rows = new List<DifferenceRow>((2 * train.Count) + pointwise.Count);
        for (var i = 0; i < train.Count; i++)
        {
            var difference = SparseVector.Subtract(features[sides[i].Chosen], features[sides[i].Rejected]);
            var weight = (float)(train[i].Weight * recency.Of(train[i].CreatedAt));
            rows.Add(new DifferenceRow { Features = difference.ToVBuffer(), Label = true, Weight = weight });
            rows.Add(new DifferenceRow { Features = difference.Negate().ToVBuffer(), Label = false, Weight = weight });
        }
        for (var i = 0; i < pointwise.Count; i++)
        {
            rows.Add(new DifferenceRow { Features = features[labelled[i]].ToVBuffer(), Label = pointwise[i].Label, Weight = (float)(options.LabelWeight * recency.Of(pointwise[i].CreatedAt)) });
        }

        var rowSchema = SchemaDefinition.Create(typeof(DifferenceRow));
        rowSchema[nameof(DifferenceRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featurizer.FeatureCount);
        var data = mlContext.Data.LoadFromEnumerable(rows, rowSchema);

        var trainer = mlContext.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = nameof(DifferenceRow.Label),
            FeatureColumnName = nameof(DifferenceRow.Features),
            ExampleWeightColumnName = nameof(DifferenceRow.Weight),
            L2Regularization = options.L2Regularization,
            // L1 would make the weights sparse but moves the optimum with tiny data; L2 alone keeps it smooth.
            L1Regularization = 0,
            // Parallel gradient sums add in a thread-dependent order; one thread keeps training bit-for-bit repeatable.
            NumberOfThreads = 1,
        });
        var fitted = trainer.Fit(data);

        // The linear model reads the featurizer's "Features" column, so the two chain into one ML.NET model that
        // is saved as one zip (and that ML.NET tooling could run on its own).
        var chain = new TransformerChain<ITransformer>(featurizer.Transformer, fitted);
        var manifest = new RewardModelManifest(
            RewardModelManifest.FormatFor(options.NgramsWithinLines), options.Version, options.Seed, train.Count, featurizer.FeatureCount,
            options.WordNgramLength, options.CharNgramLength, options.L2Regularization, fitted.Model.SubModel.Bias)
        {
            NgramsWithinLines = options.NgramsWithinLines,
        };
        return new RewardModel(featurizer, chain, RewardModel.DenseWeights(fitted.Model.SubModel, featurizer.FeatureCount), manifest);
    }

    private static void Validate(IReadOnlyList<PreferencePair> train, RewardTrainingOptions options)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("Cannot train a reward model on zero preference pairs.", nameof(train));
        }
        if (string.IsNullOrWhiteSpace(options.Version))
        {
            throw new ArgumentException("The reward model needs a version.", nameof(options));
        }
        if (options.RecencyHalfLife is { } halfLife && halfLife <= TimeSpan.Zero)
        {
            throw new ArgumentException($"The recency half-life must be positive (or null for none); it is {halfLife}.", nameof(options));
        }
        if (options.WordNgramLength < 1 || options.CharNgramLength < 0 || !(options.L2Regularization >= 0) || !(options.LabelWeight >= 0 && float.IsFinite(options.LabelWeight)))
        {
            throw new ArgumentException(
                "Word n-gram length must be at least 1, character n-gram length at least 0, and the L2 penalty and label weight non-negative.",
                nameof(options));
        }
        foreach (var pair in train)
        {
            if (!double.IsFinite(pair.Weight) || pair.Weight < 0)
            {
                throw new ArgumentException($"Pair '{pair.PairId}' has weight {pair.Weight}; weights must be finite and non-negative.", nameof(train));
            }
        }
        if (train.All(p => p.Weight == 0))
        {
            throw new ArgumentException("Every preference pair has weight 0: there is nothing to learn from.", nameof(train));
        }
    }

    /// <summary>One training row: a feature difference between two responses to the same prompt, or one labelled response.</summary>
    private sealed class DifferenceRow
    {
        public VBuffer<float> Features { get; set; }
        public bool Label { get; set; }
        public float Weight { get; set; }
    }
}
