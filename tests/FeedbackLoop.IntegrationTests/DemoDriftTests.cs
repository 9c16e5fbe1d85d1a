using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Cli.Simulation;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>The demo's taste drift: users change what they like, not how hard they are to please; the report says when.</summary>
public sealed class DemoDriftTests : IDisposable
{
    private readonly TempFolder _out = new("demo-drift");

    [Fact]
    public void The_drift_reorders_tastes_without_making_users_easier_or_harder()
    {
        var world = new ChatWorld(400, seed: 5);
        var random = new Random(11);
        double randomBefore = 0, oracleBefore = 0, randomAfter = 0, oracleAfter = 0;
        var changed = 0;
        const int Prompts = 4000;
        for (var p = 0; p < Prompts; p++)
        {
            var user = random.Next(world.Users);
            var candidates = ChatWorld.Candidates(p, 4, seed: 5);
            var before = candidates.Select(c => world.LikeProbability(user, c.Traits)).ToArray();
            var after = candidates.Select(c => world.LikeProbability(user, c.Traits, drifted: true)).ToArray();
            randomBefore += before.Average();
            oracleBefore += before.Max();
            randomAfter += after.Average();
            oracleAfter += after.Max();
            if (Array.IndexOf(before, before.Max()) != Array.IndexOf(after, after.Max())) changed++;
        }

        Assert.InRange(Math.Abs(randomAfter - randomBefore) / Prompts, 0, 0.02);
        Assert.InRange(Math.Abs(oracleAfter - oracleBefore) / Prompts, 0, 0.02);
        // The best answer for the same user and prompt changes often enough that a model of the old taste loses.
        Assert.InRange(changed / (double)Prompts, 0.2, 1);
    }

    [Fact]
    public async Task The_report_says_when_tastes_drifted_and_carries_a_rollouts_list()
    {
        var runner = new DemoRunner(new DemoOptions(_out, Seed: 3, Users: 60, Generations: 1, PromptsPerRound: 150, Rounds: 6, CandidatesPerPrompt: 4, DemoCommand.DemoPipeline, DriftRound: 2), NullLoggerFactory.Instance);

        var report = await runner.RunAsync(_ => { }, CancellationToken.None);
        var json = report.ToJson();
        report.SavePlot(Path.Combine(_out, "report.png"));

        var reread = DemoReport.FromJson(json);
        Assert.Equal(2, reread.Drift!.Round);
        Assert.InRange(reread.Drift.Generation!.Value, 0, reread.Generations.Count - 1);
        // A second candidate may pass the gate within six rounds and open a canary: the list is there either way.
        Assert.Contains("\"rollouts\": [", json, StringComparison.Ordinal);
        Assert.Equal(report.EventsEmitted, reread.EventsIngested);
        Assert.True(new FileInfo(Path.Combine(_out, "report.png")).Length > 10_000);
    }

    public void Dispose() => _out.Dispose();
}
