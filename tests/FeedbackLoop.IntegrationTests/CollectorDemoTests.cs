using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.IntegrationTests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary><c>demo --via-collector</c>: the same loop with the app's events going through the HTTP collector; nothing is lost on the way.</summary>
[Collection(CollectorTests.Collection)]
public sealed class CollectorDemoTests : IDisposable
{
    private readonly TempFolder _out = new("demo-collector");

    [Fact]
    public async Task A_small_demo_through_the_collector_ingests_every_event_it_emitted_and_promotes_a_model()
    {
        var runner = new DemoRunner(new DemoOptions(_out, Seed: 3, Users: 60, Generations: 2, PromptsPerRound: 150, Rounds: 8, CandidatesPerPrompt: 4, DemoCommand.DemoPipeline, ViaCollector: true), NullLoggerFactory.Instance);

        var report = await runner.RunAsync(_ => { }, CancellationToken.None);

        Assert.True(report.EventsEmitted > 0);
        Assert.Equal(report.EventsEmitted, report.EventsIngested);
        Assert.Equal(0, report.EventsDeadLettered);
        Assert.True(report.Generations.Count >= 2, "at least one promotion");
        Assert.True(File.Exists(Path.Combine(_out, "collector-keys.json")));
    }

    public void Dispose() => _out.Dispose();
}
