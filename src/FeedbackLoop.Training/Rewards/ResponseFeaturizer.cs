using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// The fitted ML.NET text featurizer (word n-grams, optionally character n-grams, L2-normalized) that turns a response into a
/// sparse feature vector. With <see cref="RewardTrainingOptions.NgramsWithinLines"/> each non-blank line of a response is
/// featurized on its own and the response's vector is the sum of its lines' vectors divided by √(lines): no n-gram spans
/// two lines, and every line weighs alike whatever its length (docs/adr/0042). Thread-safe: an ML.NET <see cref="PredictionEngine{TSrc, TDst}"/> is not, so each call
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

    private ResponseFeaturizer(MLContext mlContext, ITransformer transformer, DataViewSchema inputSchema, int featureCount, bool byLine)
    {
        _mlContext = mlContext;
        Transformer = transformer;
        _inputSchema = inputSchema;
        FeatureCount = featureCount;
        ByLine = byLine;
    }

    /// <summary>The fitted ML.NET transformer: response text in, <c>Features</c> vector out.</summary>
    internal ITransformer Transformer { get; }

    /// <summary>Length of the feature vector (vocabulary of n-grams seen when fitting).</summary>
    internal int FeatureCount { get; }

    /// <summary>True when each line is featurized on its own (<see cref="RewardTrainingOptions.NgramsWithinLines"/>).</summary>
    internal bool ByLine { get; }

    /// <summary>Fits the featurizer on the given texts, in their order (which fixes the feature indices).</summary>
    internal static ResponseFeaturizer Fit(MLContext mlContext, IReadOnlyList<string> texts, RewardTrainingOptions options)
    {
        // By line, the vocabulary is that of the lines (first-appearance order), so it holds no n-gram across a line break.
        if (options.NgramsWithinLines)
        {
            texts = [.. texts.SelectMany(Lines).Distinct(StringComparer.Ordinal)];
            // ML.NET cannot fit a vocabulary on nothing; say why rather than let its schema error through.
            if (texts.Count == 0) throw new ArgumentException("Cannot train a reward model by line: every response is blank.", nameof(texts));
        }
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
        return FromTransformer(mlContext, transformer, data.Schema, options.NgramsWithinLines);
    }

    /// <summary>The non-blank lines of a response, trimmed, in order.</summary>
    internal static IEnumerable<string> Lines(string text) =>
        text.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0);

    /// <summary>Wraps a transformer loaded from a model zip; <paramref name="byLine"/> as the model's manifest says.</summary>
    internal static ResponseFeaturizer FromTransformer(MLContext mlContext, ITransformer transformer, DataViewSchema inputSchema, bool byLine)
    {
        var outputType = transformer.GetOutputSchema(inputSchema)[FeaturesColumn].Type as VectorDataViewType
            ?? throw new InvalidDataException($"The featurizer does not produce a '{FeaturesColumn}' vector column.");
        return new ResponseFeaturizer(mlContext, transformer, inputSchema, outputType.Size, byLine);
    }

    /// <summary>Features of each text, in order, as sparse vectors; one batch pass for training.</summary>
    internal SparseVector[] FeaturizeAll(IReadOnlyList<string> texts)
    {
        if (!ByLine) return FeaturizeTexts(texts);
        var owners = new List<int>();
        var lines = new List<string>();
        for (var t = 0; t < texts.Count; t++)
        {
            foreach (var line in Lines(texts[t]))
            {
                owners.Add(t);
                lines.Add(line);
            }
        }
        var lineFeatures = FeaturizeTexts(lines);
        var sums = new SortedDictionary<int, float>[texts.Count];
        var lineCounts = new int[texts.Count];
        for (var l = 0; l < lines.Count; l++)
        {
            var sum = sums[owners[l]] ??= [];
            lineCounts[owners[l]]++;
            var features = lineFeatures[l];
            for (var k = 0; k < features.Indices.Length; k++)
                sum[features.Indices[k]] = sum.GetValueOrDefault(features.Indices[k]) + features.Values[k];
        }
        var result = new SparseVector[texts.Count];
        for (var t = 0; t < texts.Count; t++)
        {
            var entries = sums[t]?.Where(e => e.Value != 0).ToArray() ?? [];
            var scale = LineScale(lineCounts[t]);
            result[t] = new SparseVector(FeatureCount, [.. entries.Select(e => e.Key)], [.. entries.Select(e => e.Value * scale)]);
        }
        return result;
    }

    // 1/√lines: when the lines share no n-gram (the usual case) the response's vector keeps unit length, as a whole
    // response's does, so the L2 penalty means the same with lines as without.
    private static float LineScale(int lines) => lines == 0 ? 0 : 1 / MathF.Sqrt(lines);

    private SparseVector[] FeaturizeTexts(IReadOnlyList<string> texts)
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
        if (!ByLine) return DotText(text, weights);
        // The dot product is linear: the sum over lines, scaled as FeaturizeAll scales the summed vector.
        var sum = 0.0;
        var lines = 0;
        foreach (var line in Lines(text))
        {
            sum += DotText(line, weights);
            lines++;
        }
        return sum * LineScale(lines);
    }

    private double DotText(string text, float[] weights)
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
