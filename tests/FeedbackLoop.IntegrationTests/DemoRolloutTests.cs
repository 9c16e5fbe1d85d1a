using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Orchestration.Registry;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The demo's promotions go through canaries: the app resolves each session's model, the rollout monitor's sequential
/// test decides on the engagement datasets, and the deliberately broken canary is rolled back with its reason.
/// </summary>
public sealed class DemoRolloutTests : IDisposable
{
    private readonly TempFolder _out = new("demo-rollouts");

    [Fact]
    public async Task A_canary_is_promoted_and_the_broken_one_is_rolled_back_with_its_numbers()
    {
        // Rounds enough for the second canary to reach its decision or its 30-minute limit (3 simulated minutes a round)
        // and then serve as a generation; the demo wraps up as soon as that is so. With 24 a canary was once still on
        // trial when the rounds ran out, with 32 one was promoted in the last round and never served.
        var runner = new DemoRunner(new DemoOptions(_out, Seed: 2, Users: 60, Generations: 2, PromptsPerRound: 150, Rounds: 40, CandidatesPerPrompt: 4,
            DemoCommand.DemoPipeline, DriftRound: 0, FaultyCanary: 1), NullLoggerFactory.Instance);

        var report = await runner.RunAsync(_ => { }, CancellationToken.None);
        var json = report.ToJson();
        var reread = DemoReport.FromJson(json);

        Assert.Equal(report.EventsEmitted, reread.EventsIngested);
        Assert.Contains("\"canary_percent\": 50", json, StringComparison.Ordinal);
        // The first canary is the broken one; any other rollout is decided by the test on its own.
        var rolledBack = reread.Rollouts[0];
        Assert.Equal(reread.InjectedFault!.Version, rolledBack.Version);
        Assert.Equal("rolled_back", rolledBack.Decision);
        Assert.StartsWith("injected fault", rolledBack.Reason, StringComparison.Ordinal);
        Assert.Contains("canary engagement is lower", rolledBack.Reason, StringComparison.Ordinal);
        Assert.True(rolledBack.CanaryRate < rolledBack.StableRate, $"the broken canary was worse: {rolledBack.CanaryRate} vs {rolledBack.StableRate}");
        Assert.True(rolledBack.Sessions > 0);
        Assert.Contains(reread.Rollouts, r => r.Decision == "promoted" && r.Reason.Length > 0);
        // A promoted canary is the next generation; the rolled-back one never served everyone.
        var promoted = reread.Rollouts.Where(r => r.Decision == "promoted").Select(r => r.Version).ToList();
        Assert.All(promoted, v => Assert.Contains(reread.Generations, g => g.ModelVersion == v));
        Assert.DoesNotContain(reread.Generations, g => g.ModelVersion == rolledBack.Version);

        // The store agrees: the rollback is recorded on the rolled-back version, by the monitor, not by a person.
        var registry = new ModelRegistry(Path.Combine(_out, "registry.db"));
        var rollout = registry.ListRollouts("demo").Single(r => r.Version == rolledBack.Version);
        Assert.Equal(RolloutState.RolledBack, rollout.State);
        var ended = registry.RolloutDecisions(rollout.RolloutId)[^1];
        Assert.Equal("rollback", ended.Decision);
        Assert.False(ended.ByPerson);
        Assert.NotNull(ended.Interval);
        Assert.True(ended.Interval!.Value.Upper < 0, "the always-valid interval lay below zero");
    }

    public void Dispose() => _out.Dispose();
}
