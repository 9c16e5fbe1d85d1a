using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FeedbackLoop.Core.Gating;

/// <summary>One model's score on the eval pairs, as an eval job reports it.</summary>
/// <param name="Accuracy">Pairwise accuracy in [0, 1].</param>
/// <param name="StandardError">Its standard error.</param>
/// <param name="EvalPairs">Pairs scored.</param>
/// <param name="Outcomes">Each pair's outcome (pair_id → ranked correctly), when the evaluator reports them; they let the gate compare pair by pair.</param>
public sealed record ModelScore(
    double Accuracy,
    double StandardError,
    int EvalPairs,
    IReadOnlyDictionary<string, bool>? Outcomes)
{
    /// <summary>The score of per-pair outcomes (the in-process evaluator).</summary>
    public static ModelScore Of(PairwiseOutcomes outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        return new ModelScore(outcomes.Accuracy, outcomes.StandardError, outcomes.Count,
            outcomes.Outcomes.ToDictionary(o => o.PairId, o => o.Correct, StringComparer.Ordinal));
    }

    /// <summary>
    /// Reads an evaluator's <c>metrics.json</c>: <c>accuracy</c> (a number in [0, 1]) and <c>eval_pairs</c> (a whole
    /// number ≥ 0) are required; <c>standard_error</c> is √(p(1−p)/n) when absent; <c>outcomes</c> (an object of
    /// pair_id → true/false, one entry per eval pair) is optional.
    /// </summary>
    /// <exception cref="InvalidDataException">A field is missing or out of range; the message names it.</exception>
    public static ModelScore FromMetrics(JsonElement metrics)
    {
        if (metrics.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"metrics.json must hold a JSON object, got {metrics.ValueKind}");
        }

        var accuracy = metrics.TryGetProperty("accuracy", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble()
            : throw new InvalidDataException("metrics.json has no number 'accuracy'");
        if (accuracy is not (>= 0 and <= 1))
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"metrics.json 'accuracy' must be in [0, 1], got {accuracy}"));
        }

        var pairs = metrics.TryGetProperty("eval_pairs", out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var count) && count >= 0
            ? count
            : throw new InvalidDataException("metrics.json has no whole number 'eval_pairs' ≥ 0");
        var standardError = pairs == 0 ? 0 : Math.Sqrt(accuracy * (1 - accuracy) / pairs);
        if (metrics.TryGetProperty("standard_error", out var se) && se.ValueKind != JsonValueKind.Null)
        {
            standardError = se.ValueKind == JsonValueKind.Number && se.GetDouble() >= 0 ? se.GetDouble()
                : throw new InvalidDataException("metrics.json 'standard_error' must be a number ≥ 0");
        }

        Dictionary<string, bool>? outcomes = null;
        if (metrics.TryGetProperty("outcomes", out var o) && o.ValueKind != JsonValueKind.Null)
        {
            if (o.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("metrics.json 'outcomes' must be an object of pair_id → true/false");
            }

            outcomes = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var entry in o.EnumerateObject())
            {
                outcomes[entry.Name] = entry.Value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new InvalidDataException($"metrics.json 'outcomes' of pair '{entry.Name}' must be true or false"),
                };
            }

            if (outcomes.Count != pairs)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"metrics.json has {outcomes.Count} 'outcomes' but 'eval_pairs' is {pairs}"));
            }
        }

        return new ModelScore(accuracy, standardError, pairs, outcomes);
    }

    /// <summary>The per-pair outcomes, when reported.</summary>
    public PairwiseOutcomes? ToOutcomes() =>
        Outcomes is null ? null : new PairwiseOutcomes(Outcomes.Select(o => new PairOutcome(o.Key, o.Value)));

    /// <summary>The summary the unpaired gate uses.</summary>
    public AccuracySummary ToSummary() => new(Accuracy, StandardError, EvalPairs);
}

/// <summary>An extra eval check: the command as run, and how it ended.</summary>
/// <param name="Command">The command line (arguments quoted where needed).</param>
/// <param name="ExitCode">Its exit code; null when it could not start.</param>
/// <param name="Error">Why it could not start.</param>
public sealed record CheckResult(string Command, int? ExitCode, string? Error)
{
    /// <summary>True when it exited 0.</summary>
    [JsonIgnore]
    public bool Passed => ExitCode == 0 && Error is null;
}

/// <summary>What an eval job reports: the candidate's and the incumbent's scores on the same pairs, and the extra checks.</summary>
/// <param name="Candidate">The candidate's score.</param>
/// <param name="Incumbent">The incumbent's score; null when the app had no comparable model.</param>
/// <param name="Checks">The extra checks, in pipeline order.</param>
public sealed record EvalReport(ModelScore Candidate, ModelScore? Incumbent, IReadOnlyList<CheckResult> Checks)
{
    /// <summary>
    /// Which held-out pairs both were scored on, when <c>eval.recency</c> chose the recent ones (<see cref="RecentEvalPairs"/>);
    /// null when every held-out pair was scored (the default, and every report written before the setting existed).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public EvalPairsUsed? PairsUsed { get; init; }

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The report as the job's metrics JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads an eval job's metrics JSON.</summary>
    /// <exception cref="InvalidDataException">It is not an eval report.</exception>
    public static EvalReport Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<EvalReport>(json, Json) is { Candidate: not null, Checks: not null } report
                ? report
                : throw new InvalidDataException("the eval job's metrics are not an eval report (no candidate)");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the eval job's metrics are not an eval report: {e.Message}", e);
        }
    }
}
