using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>The gate's verdict on one generation's candidate, as <c>report.json</c> shows it.</summary>
internal sealed record GenerationEval(double Candidate, double? Incumbent, bool Promoted, string Reason);

/// <summary>One model generation: the period the app served one model version.</summary>
internal sealed record GenerationRow(string ModelVersion, int Shown, double ThumbsUpRate, int TrainPairs, GenerationEval? Eval);

/// <summary>
/// When users' tastes drifted: from round <paramref name="Round"/>, while the app served generation <paramref name="Generation"/>
/// (null when the demo ended before that round).
/// </summary>
internal sealed record DriftRow(int Round, int? Generation);

/// <summary>
/// One canary rollout: the share of sessions the candidate served, the thumbs-up rates of both arms on those concurrent
/// sessions, and the online test's decision (<c>promoted</c>, <c>rolled_back</c>) with its reason and numbers.
/// </summary>
internal sealed record RolloutRow(string Version, double CanaryPercent, long Sessions, double StableRate, double CanaryRate, string Decision, string Reason);

/// <summary><c>report.json</c>, exactly the shape the demo promises.</summary>
internal sealed record DemoReport(
    IReadOnlyList<GenerationRow> Generations,
    long EventsEmitted,
    long EventsIngested,
    long EventsDeadLettered,
    long PairsCommitted,
    long LabelsCommitted,
    double RandomThumbsUpRate,
    double OracleThumbsUpRate,
    double ElapsedSeconds)
{
    /// <summary>The taste drift of this run; null when it was off.</summary>
    public DriftRow? Drift { get; init; }

    /// <summary>The canary rollouts, in the order they started.</summary>
    public IReadOnlyList<RolloutRow> Rollouts { get; init; } = [];

    /// <summary>The fault the demo injected on purpose (<c>--faulty-canary</c>); null when it was off.</summary>
    public InjectedFaultRow? InjectedFault { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DemoReport FromJson(string json) => JsonSerializer.Deserialize<DemoReport>(json, Json)!;

    /// <summary>Thumbs-up rate per generation, promotions marked, with the random and oracle choosers as bounds.</summary>
    public void SavePlot(string path)
    {
        var plot = new Plot();
        var xs = Enumerable.Range(0, Generations.Count).Select(i => (double)i).ToArray();
        var ys = Generations.Select(g => g.ThumbsUpRate).ToArray();
        var line = plot.Add.Scatter(xs, ys);
        line.LegendText = "thumbs-up rate of the model the app served";
        line.LineWidth = 2;
        line.MarkerSize = 7;

        var promoted = Generations.Select((g, i) => (g, i)).Where(x => x.g.Eval?.Promoted == true).ToList();
        if (promoted.Count > 0)
        {
            // A generation's eval is the gate decision that promoted its model: the generation starts there.
            foreach (var (_, i) in promoted)
            {
                var start = plot.Add.VerticalLine(i - 0.5);
                start.Color = Colors.Green.WithAlpha(0.35);
                start.LinePattern = LinePattern.Dotted;
            }
            var markers = plot.Add.Markers(promoted.Select(p => (double)p.i).ToArray(), promoted.Select(p => p.g.ThumbsUpRate).ToArray());
            markers.MarkerShape = MarkerShape.FilledTriangleUp;
            markers.MarkerSize = 12;
            markers.Color = Colors.Green;
            markers.LegendText = "promoted by the eval gate";
        }
        if (Drift?.Generation is { } drifted)
        {
            var drift = plot.Add.VerticalLine(drifted);
            drift.Color = Colors.Red.WithAlpha(0.6);
            drift.LineWidth = 2;
            drift.LegendText = $"users' tastes drift (round {Drift.Round})";
        }
        var versions = Generations.Select(g => g.ModelVersion).ToList();
        bool promotedLegend = false, rolledBackLegend = false;
        for (var k = 0; k < Rollouts.Count; k++)
        {
            // A promoted canary became a generation: mark it there. A rolled-back one ran while the generation before the
            // next promoted canary served: mark it between the two, at its own (canary) rate.
            var rollout = Rollouts[k];
            var rolledBack = rollout.Decision == "rolled_back";
            var served = versions.IndexOf(rollout.Version);
            var next = Rollouts.Skip(k + 1).Select(r => versions.IndexOf(r.Version)).FirstOrDefault(i => i >= 0, -1);
            if (!rolledBack && served < 0) continue;
            double x = rolledBack ? (next >= 0 ? next - 0.5 : Generations.Count - 0.7) : served;
            var y = rolledBack ? rollout.CanaryRate : Generations[served].ThumbsUpRate;
            var mark = plot.Add.Marker(x, y);
            mark.MarkerShape = rolledBack ? MarkerShape.Eks : MarkerShape.OpenCircle;
            mark.MarkerSize = 16;
            mark.MarkerLineWidth = 2;
            mark.Color = rolledBack ? Colors.Red : Colors.Green;
            if (rolledBack && !rolledBackLegend)
            {
                mark.LegendText = "canary rolled back by the online test (its rate)";
                rolledBackLegend = true;
            }
            else if (!rolledBack && !promotedLegend)
            {
                mark.LegendText = "canary promoted by the online test (or its time limit)";
                promotedLegend = true;
            }
            // RolloutPolicy starts a decision taken at the time limit with these words.
            var note = InjectedFault?.Version == rollout.Version ? " (injected fault)"
                : rollout.Reason.StartsWith("time limit", StringComparison.Ordinal) ? " (time limit)" : "";
            var label = plot.Add.Text($"{rollout.Version}: canary {rollout.Decision.Replace('_', ' ')}{note}", x, rolledBack ? y - 0.03 : y + 0.03);
            label.LabelFontSize = 11;
            label.LabelFontColor = mark.Color;
            label.LabelAlignment = rolledBack ? Alignment.UpperCenter : Alignment.LowerCenter;
        }
        var random = plot.Add.HorizontalLine(RandomThumbsUpRate);
        random.LinePattern = LinePattern.Dashed;
        random.Color = Colors.Gray;
        random.LegendText = $"random chooser ({RandomThumbsUpRate:0.00})";
        var oracle = plot.Add.HorizontalLine(OracleThumbsUpRate);
        oracle.LinePattern = LinePattern.Dashed;
        oracle.Color = Colors.DarkOrange;
        oracle.LegendText = $"oracle chooser ({OracleThumbsUpRate:0.00})";

        plot.Title("FeedbackLoop demo (simulated users): thumbs-up rate per model generation");
        plot.Axes.Bottom.Label.Text = "model generation";
        plot.Axes.Left.Label.Text = "thumbs-up rate";
        plot.Axes.SetLimits(-0.6, Generations.Count - 0.4, 0, 1);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs, Generations.Select(g => g.ModelVersion).ToArray());
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 1000, 560);
    }
}
