using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>The gate's verdict on one generation's candidate, as <c>report.json</c> shows it.</summary>
internal sealed record GenerationEval(double Candidate, double? Incumbent, bool Promoted, string Reason);

/// <summary>One model generation: the period the app served one model version.</summary>
internal sealed record GenerationRow(string ModelVersion, int Shown, double ThumbsUpRate, int TrainPairs, GenerationEval? Eval);

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
        plot.Axes.SetLimitsY(0, 1);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs, Generations.Select(g => g.ModelVersion).ToArray());
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 1000, 560);
    }
}
