using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The trigger → tune → evaluate → gate workflow on MassTransit's test harness, with the real dataset
/// store, SQLite registry and ML.NET trainer run as tune and eval jobs by the embedded worker (small data, so
/// each run takes about a second).
/// </summary>
public sealed class LoopBusTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _root = new("bus");
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private ModelRegistry _registry = null!;
    private DatasetStore _store = null!;
    private int _pairCounter;

    private static readonly AppPipeline App = AppPipeline.Builtin with
    {
        Retrain = new RetrainSettings(60),
        Split = new SplitSettings(0.25),
        Gate = new GateSettings(0.02, RequireSignoff: false),
    };

    private static readonly PipelineDefinition Pipeline = new("test", App, new Dictionary<string, AppPipeline> { ["demo"] = App });

    public async Task InitializeAsync()
    {
        _registry = new ModelRegistry(Path.Combine(_root, "registry.db"));
        _store = new DatasetStore(_root);
        _provider = new ServiceCollection()
            .AddLoopServices(_registry, Pipeline, new LoopPaths(Path.Combine(_root, "models")), new DatasetSnapshots(_root), new MlNetRewardTrainer(), new MlNetPairwiseEvaluator())
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddLoopConsumers();
                bus.UsingInMemory((context, cfg) => cfg.ConfigureLoopEndpoints(context));
            })
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        // Longer than the longest wait below (RunsCompletedAsync, 3 minutes): the harness's own clock must not run out while
        // a slow machine still trains, or whatever it cancels then is not what the test measures.
        _harness.TestTimeout = TimeSpan.FromMinutes(4);
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
    }

    // After DisposeAsync (xUnit calls it first): the bus and its jobs are stopped, so the folder is no longer in use.
    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Committed_pairs_below_the_threshold_start_no_run()
    {
        await CommitPairsAsync(40);

        await _harness.Bus.Publish(new DatasetCommitted("demo", 40));

        // The trigger's consumer starts a run, creates its job and offers it before it returns, and the harness records
        // the trigger as consumed only once the consumer has returned: from then on, no run means none is coming.
        Assert.Null(await _harness.ConsumedAsync<DatasetCommitted>(m => m is { AppId: "demo", PairsWritten: 40 }));
        Assert.Empty(_registry.ListRuns("demo"));
        Assert.Empty(new JobStore(_registry.DatabasePath).List());
        Assert.Empty(_harness.SentSoFar<JobOffered>());
    }

    [Fact]
    public async Task Reaching_the_threshold_tunes_evaluates_and_promotes_the_first_candidate()
    {
        await CommitPairsAsync(120);

        await _harness.Bus.Publish(new DatasetCommitted("demo", 120));

        await RunsCompletedAsync(1);
        await WaitForPublishedAsync<ModelPromoted>(1);
        Assert.Single(_harness.PublishedSoFar<ModelPromoted>());
        var run = Assert.Single(_registry.ListRuns("demo"));
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(120, run.Snapshot.TotalPairs);
        var model = Assert.Single(_registry.ListModels("demo"));
        Assert.Equal(ModelStatus.Promoted, model.Model.Status);
        Assert.NotNull(model.Decision);
        Assert.Null(model.Decision!.IncumbentAccuracy);
        Assert.True(model.Decision.CandidateAccuracy > 0.6, $"accuracy {model.Decision.CandidateAccuracy}");
        Assert.Equal(model.Model.Version, _registry.CurrentModel("demo")!.Version);
    }

    [Fact]
    public async Task A_later_candidate_is_gated_against_the_incumbent_on_the_same_pairs_and_the_decision_is_recorded()
    {
        await CommitPairsAsync(120);
        await _harness.Bus.Publish(new DatasetCommitted("demo", 120));
        await RunsCompletedAsync(1);

        await CommitPairsAsync(120);
        await _harness.Bus.Publish(new DatasetCommitted("demo", 120));
        await RunsCompletedAsync(2);

        await WaitForPublishedAsync<EvaluationCompleted>(2);
        var second = _harness.PublishedSoFar<EvaluationCompleted>().Single(m => m.IncumbentVersion is not null);
        Assert.NotNull(second.IncumbentAccuracy);
        Assert.Contains("incumbent", second.Reason, StringComparison.Ordinal);
        var models = _registry.ListModels("demo");
        Assert.Equal(2, models.Count);
        Assert.All(models, m => Assert.NotNull(m.Decision));
        Assert.Equal(2, _registry.ListRuns("demo").Count(r => r.Status == RunStatus.Completed));
        // The second run's snapshot froze 240 pairs; nothing written later can be in it.
        Assert.Contains(_registry.ListRuns("demo"), r => r.Snapshot.TotalPairs == 240);
    }

    [Fact]
    public async Task The_same_trigger_delivered_twice_starts_one_run()
    {
        await CommitPairsAsync(120);

        await _harness.Bus.Publish(new DatasetCommitted("demo", 120));
        await _harness.Bus.Publish(new DatasetCommitted("demo", 120));

        await WaitForConsumedAsync<DatasetCommitted>(2);
        await RunsCompletedAsync(1);
        await WaitForPublishedAsync<ModelPromoted>(1);
        // Both triggers' consumers have returned (each would have started its run before returning) and the run is over.
        Assert.Single(_harness.PublishedSoFar<ModelPromoted>());
        Assert.Single(_registry.ListRuns("demo"));
        Assert.Single(_registry.ListModels("demo"));
    }

    // The registry is the source of truth, so the tests wait on it (with a deadline) rather than on the harness's Any()
    // and Select(), which wait for the bus to fall quiet; the harness is read only as it is (HarnessRecords).
    private async Task RunsCompletedAsync(int count)
    {
        // ML.NET trains and scores in this process: its first run (JIT included) took over a minute on a loaded CI machine.
        if (await Eventually.TrueAsync(() => _registry.ListRuns("demo").Count(r => r.Status != RunStatus.Running) >= count, TimeSpan.FromMinutes(3))) return;
        // A run stayed Running here twice in full runs of the suite (it takes seconds alone): say where each job stood, and
        // how many offers went out, so the next failure shows whether an offer was lost (one is sent again only after
        // OrchestratorOptions.OfferAgainAfter, 5 minutes) or an attempt never ended.
        var jobs = new JobStore(_registry.DatabasePath).List("demo")
            .Select(j => $"{j.JobId} {j.Kind} {j.State} attempt {j.Attempt}/{j.MaxAttempts} due {j.DueAt:O} updated {j.UpdatedAt:O} {j.Reason}");
        Assert.Fail($"{count} run(s) did not finish in time: {string.Join("; ", _registry.ListRuns("demo").Select(r => $"{r.RunId} {r.Status} {r.Reason}"))}"
            + $" | jobs: {string.Join("; ", jobs)} | offers sent: {_harness.SentSoFar<JobOffered>().Count}, jobs consumed by workers: {_harness.ConsumedSoFar<JobOffered>().Count}");
    }

    private async Task WaitForConsumedAsync<T>(int count) where T : class =>
        Assert.True(await Eventually.TrueAsync(() => _harness.ConsumedSoFar<T>().Count >= count, TimeSpan.FromSeconds(30)), $"{count} {typeof(T).Name} not consumed");

    private async Task WaitForPublishedAsync<T>(int count) where T : class =>
        Assert.True(await Eventually.TrueAsync(() => _harness.PublishedSoFar<T>().Count >= count, TimeSpan.FromSeconds(30)), $"{count} {typeof(T).Name} not published");

    /// <summary>Writes pairs where the concise answer with an example beats the rambling one, as the extractors would.</summary>
    private async Task CommitPairsAsync(int count)
    {
        var output = new ExtractionOutput();
        for (var i = 0; i < count; i++)
        {
            var n = Interlocked.Increment(ref _pairCounter);
            var topic = $"topic {n % 13}";
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"c{n}", $"r{n}"), "demo", [new ConversationTurn("user", $"How do I handle {topic}?")],
                new ConversationTurn("assistant", $"Do this for {topic}. For example, start small."),
                new ConversationTurn("assistant", $"There are, of course, many considerations about {topic} that may or may not apply in general."),
                "comparison", 1.0, $"c{n}", $"r{n}", "m1", "m1", $"s{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }
        await _store.WriteAsync(output);
    }
}
