using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// A tuning run trains on a reviewed snapshot: the trigger freezes one, the registry records its id, the jobs carry it,
/// and excluded pairs never reach the trainer (real dataset store, review log, SQLite registry and ML.NET trainer on
/// MassTransit's test harness, as in LoopBusTests).
/// </summary>
public sealed class ReviewedRunTests : IAsyncLifetime, IDisposable
{
    private const string App = "demo";
    private static readonly AppPipeline Settings = AppPipeline.Builtin with { Retrain = new RetrainSettings(60), Split = new SplitSettings(0.25) };
    private static readonly PipelineDefinition Pipeline = new("test", Settings, new Dictionary<string, AppPipeline> { [App] = Settings });

    private readonly TempFolder _root = new("reviewed-run");
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private ModelRegistry _registry = null!;

    public async Task InitializeAsync()
    {
        _registry = new ModelRegistry(Path.Combine(_root, "registry.db"));
        _provider = new ServiceCollection()
            .AddLoopServices(_registry, Pipeline, new LoopPaths(Path.Combine(_root, "models")), new DatasetSnapshots(_root), new MlNetRewardTrainer(), new MlNetPairwiseEvaluator())
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddLoopConsumers();
                bus.UsingInMemory((context, cfg) => cfg.ConfigureLoopEndpoints(context));
            })
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.TestTimeout = TimeSpan.FromSeconds(60);
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_run_trains_on_a_reviewed_snapshot_without_the_excluded_pairs_and_the_registry_says_which()
    {
        var pairs = Pairs(120);
        var output = new ExtractionOutput();
        output.Pairs.AddRange(pairs);
        await new DatasetStore(_root).WriteAsync(output);
        var log = new ReviewLog(_root, App);
        var excluded = pairs.Take(30).Select(p => p.PairId).ToHashSet(StringComparer.Ordinal);
        foreach (var id in excluded) await log.DecideAsync(new ReviewRequest(id, ReviewActions.Exclude, "ann", "low-quality"));

        await _harness.Bus.Publish(new DatasetCommitted(App, 120));

        Assert.True(await Eventually.TrueAsync(() => _registry.ListRuns(App).Any(r => r.Status != RunStatus.Running), TimeSpan.FromSeconds(60)), "the run did not finish in time");
        var run = Assert.Single(_registry.ListRuns(App));
        Assert.Equal(RunStatus.Completed, run.Status);
        var snapshotId = Assert.IsType<string>(run.Snapshot.SnapshotId);
        var manifest = new SnapshotBook(_root).Get(snapshotId);
        Assert.Equal(120, manifest.PreferencePairs.Rows);
        Assert.Equal(90, manifest.PreferencePairs.RowsAfterReview);
        Assert.Equal(excluded.Order(StringComparer.Ordinal), manifest.Review.Applied.Select(d => d.Item));
        Assert.Equal(120, run.Snapshot.TotalPairs); // the retrain baseline counts what was extracted

        // The run is over, so its tune and eval jobs were offered.
        var offers = _harness.SentSoFar<JobOffered>();
        Assert.True(offers.Count >= 2, $"{offers.Count} job offers");
        Assert.All(offers, o => Assert.Equal(snapshotId, o.Spec.SnapshotId));

        // The trainer saw exactly the reviewed pairs on the training side of the split.
        var model = Assert.Single(_registry.ListModels(App)).Model;
        using var metrics = JsonDocument.Parse(model.TrainMetricsJson);
        var expectedTrain = pairs.Count(p => !excluded.Contains(p.PairId) && !TrainEvalSplit.IsEval(p.PairId, 0.25));
        Assert.Equal(expectedTrain, metrics.RootElement.GetProperty("train_pairs").GetInt32());
    }

    private static List<PreferencePair> Pairs(int count) =>
    [
        .. Enumerable.Range(1, count).Select(n =>
        {
            var topic = $"topic {n % 13}";
            return new PreferencePair(
                StableId.Pair("comparison", $"c{n}", $"r{n}"), App, [new ConversationTurn("user", $"How do I handle {topic}?")],
                new ConversationTurn("assistant", $"Do this for {topic}. For example, start small."),
                new ConversationTurn("assistant", $"There are, of course, many considerations about {topic} that may or may not apply in general."),
                "comparison", 1.0, $"c{n}", $"r{n}", "m1", "m1", $"s{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n));
        }),
    ];
}
