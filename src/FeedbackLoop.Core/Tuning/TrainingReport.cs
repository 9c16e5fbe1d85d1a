using System.Text.Json;

namespace FeedbackLoop.Core.Tuning;

/// <summary>
/// What a tuning job reports, as its <c>metrics.json</c> holds it: the numbers the loop reads (<c>train_pairs</c>,
/// <c>train_accuracy</c>, <c>seconds</c>), each optional because a command trainer may report any subset, and every
/// other field the trainer wrote, kept as it was. It is parsed once where it enters (the worker reading the file) and
/// read back through <see cref="Parse"/> wherever it is stored (the job's result, the model's train metrics); it is only
/// ever written by <see cref="ToJson"/>, never built as text.
/// </summary>
/// <param name="TrainPairs">Pairs trained on.</param>
/// <param name="TrainAccuracy">Accuracy on the training pairs.</param>
/// <param name="Seconds">Training time.</param>
/// <param name="Extra">The trainer's other fields (and a known field of an unexpected type), in its order.</param>
public sealed record TrainingReport(int? TrainPairs, double? TrainAccuracy, double? Seconds, IReadOnlyList<KeyValuePair<string, JsonElement>> Extra)
{
    private const string TrainPairsField = "train_pairs";
    private const string TrainAccuracyField = "train_accuracy";
    private const string SecondsField = "seconds";

    /// <summary>The report of the in-process trainer, rounded as the loop has always shown it (4 and 2 decimals).</summary>
    public static TrainingReport Of(TrainingMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return new TrainingReport(metrics.TrainPairs, Math.Round(metrics.TrainAccuracy, 4), Math.Round(metrics.Seconds, 2), []);
    }

    /// <summary>Reads a report from a JSON object.</summary>
    /// <exception cref="InvalidDataException">It is not a JSON object.</exception>
    public static TrainingReport FromJson(JsonElement metrics)
    {
        if (metrics.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"training metrics must be a JSON object, got {metrics.ValueKind}");
        }

        int? pairs = null;
        double? accuracy = null;
        double? seconds = null;
        var extra = new List<KeyValuePair<string, JsonElement>>();
        foreach (var field in metrics.EnumerateObject())
        {
            var number = field.Value.ValueKind == JsonValueKind.Number;
            switch (field.Name)
            {
                case TrainPairsField when number && field.Value.TryGetInt32(out var n) && pairs is null:
                    pairs = n;
                    break;
                case TrainAccuracyField when number && accuracy is null:
                    accuracy = field.Value.GetDouble();
                    break;
                case SecondsField when number && seconds is null:
                    seconds = field.Value.GetDouble();
                    break;
                default:
                    extra.Add(new(field.Name, field.Value.Clone()));
                    break;
            }
        }

        return new TrainingReport(pairs, accuracy, seconds, extra);
    }

    /// <summary>Reads a stored report.</summary>
    /// <exception cref="InvalidDataException">It is not JSON, or not a JSON object.</exception>
    public static TrainingReport Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"training metrics are not JSON: {e.Message}", e);
        }
    }

    /// <summary>The report as a JSON object: the known numbers first, then the trainer's other fields.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (TrainPairs is { } pairs)
            {
                writer.WriteNumber(TrainPairsField, pairs);
            }

            if (TrainAccuracy is { } accuracy)
            {
                writer.WriteNumber(TrainAccuracyField, accuracy);
            }

            if (Seconds is { } seconds)
            {
                writer.WriteNumber(SecondsField, seconds);
            }

            foreach (var (name, value) in Extra)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
