using DuckDB.NET.Data;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Orchestration.Registry;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>The demo with small settings: the report agrees with the Parquet files and the registry.</summary>
public sealed class DemoSmokeTests : IDisposable
{
    private readonly TempFolder _out = new("demo");

    [Fact]
    public async Task A_small_demo_closes_the_loop_and_its_report_matches_the_datasets()
    {
        var runner = new DemoRunner(new DemoOptions(_out, Seed: 3, Users: 60, Generations: 2, PromptsPerRound: 150, Rounds: 8, CandidatesPerPrompt: 4, DemoCommand.DemoPipeline), NullLoggerFactory.Instance);

        var report = await runner.RunAsync(_ => { }, CancellationToken.None);
        File.WriteAllText(Path.Combine(_out, "report.json"), report.ToJson());
        report.SavePlot(Path.Combine(_out, "report.png"));

        var reread = DemoReport.FromJson(File.ReadAllText(Path.Combine(_out, "report.json")));
        Assert.Equal(report.EventsEmitted, reread.EventsIngested);
        Assert.Equal(0, reread.EventsDeadLettered);
        Assert.True(reread.Generations.Count >= 2, "at least one promotion");
        Assert.Equal("random", reread.Generations[0].ModelVersion);
        Assert.Null(reread.Generations[0].Eval);
        Assert.All(reread.Generations.Skip(1), g => Assert.True(g.Eval!.Promoted));
        Assert.InRange(reread.RandomThumbsUpRate, 0.0, reread.OracleThumbsUpRate);
        Assert.True(new FileInfo(Path.Combine(_out, "report.png")).Length > 10_000);

        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*), count(DISTINCT pair_id) FROM read_parquet('{_out}/datasets/demo/preference-pairs/*.parquet')";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(reread.PairsCommitted, reader.GetInt64(0));
        Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));

        var registry = new ModelRegistry(Path.Combine(_out, "registry.db"));
        var models = registry.ListModels("demo");
        Assert.NotEmpty(models);
        Assert.All(models, m => Assert.NotNull(m.Decision));
        // The demo's gate scores the recent held-out pairs (eval.recency, docs/adr/0039), and every verdict says which.
        Assert.All(models, m => Assert.Matches(@"\(n=(\d+): the (newest )?\1 of \d+ held-out pairs.*\(eval\.recency window 30m, at least 100\)", m.Decision!.Reason));
        Assert.All(reread.Generations.Skip(1), g => Assert.Contains("eval.recency window 30m", g.Eval!.Reason, StringComparison.Ordinal));
        Assert.All(models, m => Assert.Contains("path", m.Model.SnapshotJson, StringComparison.Ordinal));
        // Every model that went past the gate served: as a generation, or as a canary (on trial, rolled back, or promoted
        // by the last look, too late to serve a generation of its own).
        var served = reread.Generations.Skip(1).Select(g => g.ModelVersion).Union(reread.Rollouts.Select(r => r.Version));
        Assert.Equal(served.Order(StringComparer.Ordinal),
            models.Where(m => m.Model.Status is ModelStatus.Promoted or ModelStatus.Retired).Select(m => m.Model.Version).Order(StringComparer.Ordinal));
    }

    public void Dispose() => _out.Dispose();
}
