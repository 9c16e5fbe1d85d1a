using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// The fitted ML.NET text featurizer (word n-grams, optionally character n-grams, L2-normalized) that turns a response into a
/// sparse feature vector. Thread-safe: an ML.NET <see cref="PredictionEngine{TSrc, TDst}"/> is not, so each call
/// rents one from a pool (at most one engine per concurrent caller is ever built) and returns it afterwards.
/// </summary>
internal sealed class ResponseFeaturizer
{
    internal const string TextColumn = nameof(ResponseText.Text);
    internal const string FeaturesColumn = nameof(ResponseFeatures.Features);

    private readonly MLContext _mlContext;
    private readonly DataViewSchema _inputSchema;
    // Engines are built on first use per concurrent caller and reused: building one costs milliseconds,
    // running one costs microseconds.
    private readonly ConcurrentBag<Engine> _engines = [];
    // MLContext makes no promise about concurrent use, so engines are built one at a time (rarely: once per caller).
    private readonly Lock _engineCreation = new();

    private ResponseFeaturizer(MLContext mlContext, ITransformer transformer, DataViewSchema inputSchema, int featureCount)
    {
        _mlContext = mlContext;
        Transformer = transformer;
        _inputSchema = inputSchema;
        FeatureCount = featureCount;
    }

    /// <summary>The fitted ML.NET transformer: response text in, <c>Features</c> vector out.</summary>
    internal ITransformer Transformer { get; }

    /// <summary>Length of the feature vector (vocabulary of n-grams seen when fitting).</summary>
    internal int FeatureCount { get; }

    /// <summary>Fits the featurizer on the given texts, in their order (which fixes the feature indices).</summary>
    internal static ResponseFeaturizer Fit(MLContext mlContext, IReadOnlyList<string> texts, RewardTrainingOptions options)
    {
        var featurizerOptions = new TextFeaturizingEstimator.Options
        {
            CaseMode = TextNormalizingEstimator.CaseMode.Lower,
            KeepPunctuations = true,
            KeepNumbers = true,
            WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = options.WordNgramLength, UseAllLengths = true },
            CharFeatureExtractor = options.CharNgramLength > 0
                ? new WordBagEstimator.Options { NgramLength = options.CharNgramLength, UseAllLengths = false }
                : null,
            // Per-response L2 norm: long rambling answers do not win by containing more n-grams.
            Norm = TextFeaturizingEstimator.NormFunction.L2,
        };
        var data = mlContext.Data.LoadFromEnumerable(texts.Select(t => new ResponseText { Text = t }));
        var transformer = mlContext.Transforms.Text.FeaturizeText(FeaturesColumn, featurizerOptions, TextColumn).Fit(data);
        return FromTransformer(mlContext, transformer, data.Schema);
    }

    /// <summary>Wraps a transformer loaded from a model zip.</summary>
    internal static ResponseFeaturizer FromTransformer(MLContext mlContext, ITransformer transformer, DataViewSchema inputSchema)
    {
        var outputType = transformer.GetOutputSchema(inputSchema)[FeaturesColumn].Type as VectorDataViewType
            ?? throw new InvalidDataException($"The featurizer does not produce a '{FeaturesColumn}' vector column.");
        return new ResponseFeaturizer(mlContext, transformer, inputSchema, outputType.Size);
    }

    /// <summary>Features of each text, in order, as sparse vectors; one batch pass for training.</summary>
    internal SparseVector[] FeaturizeAll(IReadOnlyList<string> texts)
    {
        var data = _mlContext.Data.LoadFromEnumerable(texts.Select(t => new ResponseText { Text = t }));
        var transformed = Transformer.Transform(data);
        var result = new SparseVector[texts.Count];
        using var cursor = transformed.GetRowCursor([transformed.Schema[FeaturesColumn]]);
        var getter = cursor.GetGetter<VBuffer<float>>(transformed.Schema[FeaturesColumn]);
        var buffer = default(VBuffer<float>);
        var row = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result[row++] = SparseVector.From(buffer);
        }
        return result;
    }

    /// <summary>w·features(text), computed on a pooled engine's reused output buffer: no per-call allocation of features.</summary>
    internal double Dot(string text, float[] weights)
    {
        if (!_engines.TryTake(out var engine))
        {
            lock (_engineCreation)
            {
                engine = new Engine(_mlContext.Model.CreatePredictionEngine<ResponseText, ResponseFeatures>(Transformer, _inputSchema));
            }
        }
        try
        {
            engine.Input.Text = text;
            engine.Prediction.Predict(engine.Input, ref engine.Output);
            return SparseVector.Dot(engine.Output.Features, weights);
        }
        finally
        {
            _engines.Add(engine);
        }
    }

    /// <summary>Saves a model that starts with this featurizer (so takes the same input) as an ML.NET model zip.</summary>
    internal void Save(ITransformer model, Stream stream) => _mlContext.Model.Save(model, _inputSchema, stream);

    /// <summary>A prediction engine with its own input and output objects, used by one caller at a time.</summary>
    private sealed class Engine(PredictionEngine<ResponseText, ResponseFeatures> prediction)
    {
        public PredictionEngine<ResponseText, ResponseFeatures> Prediction { get; } = prediction;
        public ResponseText Input { get; } = new();
        // A field, so Predict can fill it by ref and reuse its buffers.
        public ResponseFeatures Output = new();
    }
}

/// <summary>ML.NET input row: one response text.</summary>
internal sealed class ResponseText
{
    public string Text { get; set; } = "";
}

/// <summary>ML.NET output row: the response's feature vector.</summary>
internal sealed class ResponseFeatures
{
    // A field, not a property, so ML.NET writes into the existing buffer instead of allocating a new one.
    public VBuffer<float> Features;
}
