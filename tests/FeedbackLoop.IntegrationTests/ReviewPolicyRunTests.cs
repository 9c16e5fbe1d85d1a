using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The pipeline's <c>review: {required: true}</c> in the real loop (dataset store, review log, SQLite store, ML.NET trainer,
/// the orchestrator's supervisor sweep on MassTransit's test harness, and the CLI as a process): a due run waits, visibly and
/// with its reason, until enough of the pairs new since the last run's snapshot are reviewed, then trains on a reviewed
/// snapshot without the excluded pairs; the next run counts only the pairs that came after.
/// </summary>
public sealed class ReviewPolicyRunTests : IAsyncLifetime, IDisposable
{
    private const string App = "demo";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private static readonly AppPipeline Settings = AppPipeline.Builtin with
    {
        Retrain = new RetrainSettings(60), Split = new SplitSettings(0.25), Review = new ReviewPolicy(Required: true, MinReviewedFraction: 0.25),
    };

    private static readonly PipelineDefinition Pipeline = new("test", Settings, new Dictionary<string, AppPipeline> { [App] = Settings });

    private readonly TempFolder _root = new("review-policy-run");
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private ModelRegistry _registry = null!;
    private ReviewWaits _waits = null!;

    public async Task InitializeAsync()
    {
        _registry = new ModelRegistry(Path.Combine(_root, "registry.db"));
        _waits = new ReviewWaits(_registry.Database);
        var snapshots = new DatasetSnapshots(_root);
        _provider = new ServiceCollection()
            .AddLoopServices(new LoopHost
            {
                Roles = LoopRoles.All,
                Registry = _registry,
                Pipeline = Pipeline,
                Paths = new LoopPaths(Path.Combine(_root, "models")),
                Snapshots = snapshots,
                Trainers = new InProcessTrainers(snapshots, new MlNetRewardTrainer(), new MlNetPairwiseEvaluator()),
                Worker = new WorkerOptions { WorkDirectory = Path.Combine(_root, "worker") },
                // Counted again often, so the test waits for the sweep, not for the 5 s default.
                Orchestrator = new OrchestratorOptions { SweepInterval = TimeSpan.FromMilliseconds(100), ReviewRecountInterval = TimeSpan.FromMilliseconds(200) },
            })
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddLoopConsumers();
                bus.UsingInMemory((context, cfg) => cfg.ConfigureLoopEndpoints(context));
            })
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.TestTimeout = Deadline;
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_run_waits_for_the_reviewed_share_of_the_new_pairs_then_trains_without_the_excluded_ones()
    {
        var pairs = Pairs(1, 120);
        await WriteAsync(pairs);
        await _harness.Bus.Publish(new DatasetCommitted(App, 120));

        // Due (120 ≥ 60 new pairs), but none reviewed: the run waits, with its reason, and nothing was frozen or started.
        var wait = await WaitUntilAsync(w => w is not null);
        Assert.Equal(new ReviewProgress(120, 0), wait.Progress);
        Assert.Equal(30, wait.NeededPairs);
        Assert.Equal("waiting for review: 0% of 120 new pairs reviewed (0), 25% needed (30)", wait.Reason);
        Assert.Empty(_registry.ListRuns(App));
        Assert.Empty(new SnapshotBook(_root).List(App));

        // The command line shows the wait (a real process reading the same store).
        var (exit, listed) = await ServeJobProcesses.CliAsync("runs", "list", "--json", "--registry", _registry.DatabasePath);
        Assert.True(exit == 0, listed);
        using (var runs = JsonDocument.Parse(listed))
        {
            var entry = Assert.Single(runs.RootElement.EnumerateArray());
            Assert.Equal("waiting_for_review", entry.GetProperty("status").GetString());
            Assert.Equal(App, entry.GetProperty("app").GetString());
            Assert.Equal(wait.Reason, entry.GetProperty("reason").GetString());
        }

        // 29 decisions, one short: the sweep counts them and the run still waits (proved by the count, not by a pause).
        var log = new ReviewLog(_root, App);
        var excluded = pairs.Take(10).Select(p => p.PairId).ToHashSet(StringComparer.Ordinal);
        foreach (var id in excluded) await log.DecideAsync(new ReviewRequest(id, ReviewActions.Exclude, "ann", "low-quality"));
        foreach (var pair in pairs.Skip(10).Take(19)) await log.DecideAsync(new ReviewRequest(pair.PairId, ReviewActions.Approve, "ann"));
        wait = await WaitUntilAsync(w => w?.Progress.ReviewedPairs == 29);
        Assert.Equal("waiting for review: 24% of 120 new pairs reviewed (29), 25% needed (30)", wait.Reason);
        Assert.Empty(_registry.ListRuns(App));

        // The 30th decision: the run starts at the next count, on a reviewed snapshot, and the wait is gone.
        await log.DecideAsync(new ReviewRequest(pairs[29].PairId, ReviewActions.Approve, "bob"));
        var run = await RunEndedAsync(1);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Null(_waits.Of(App));
        var manifest = new SnapshotBook(_root).Get(Assert.IsType<string>(run.Snapshot.SnapshotId));
        Assert.Equal(120, manifest.PreferencePairs.Rows);
        Assert.Equal(110, manifest.PreferencePairs.RowsAfterReview);
        Assert.Equal(30, manifest.Review.Applied.Count);

        // The trainer saw the reviewed pairs only: none of the excluded ones.
        var model = Assert.Single(_registry.ListModels(App)).Model;
        using (var metrics = JsonDocument.Parse(model.TrainMetricsJson))
        {
            var expectedTrain = pairs.Count(p => !excluded.Contains(p.PairId) && !TrainEvalSplit.IsEval(p.PairId, 0.25));
            Assert.Equal(expectedTrain, metrics.RootElement.GetProperty("train_pairs").GetInt32());
        }

        // 80 more pairs: only they are new since the run's snapshot, so the next run waits for 20 of them, not of 200.
        await WriteAsync(Pairs(121, 80));
        await _harness.Bus.Publish(new DatasetCommitted(App, 200));
        wait = await WaitUntilAsync(w => w is not null);
        Assert.Equal(new ReviewProgress(80, 0), wait.Progress);
        Assert.Equal(20, wait.NeededPairs);
        Assert.Single(_registry.ListRuns(App));
    }

    [Fact]
    public async Task A_wait_ends_without_a_run_when_the_app_leaves_the_pipeline()
    {
        // The registered-apps seam is the pipeline: an app the sweep no longer finds registered has its wait dropped.
        await WriteAsync(Pairs(1, 80));
        await _harness.Bus.Publish(new DatasetCommitted(App, 80));
        await WaitUntilAsync(w => w is not null);

        var other = new ReviewWaits(_registry.Database);
        Assert.True(other.Record("gone", new ReviewProgress(5, 0), ReviewGate.Decide(true, 0.5, new ReviewProgress(5, 0)), 0.5));

        Assert.True(await Eventually.TrueAsync(() => other.Of("gone") is null, Deadline), "the wait of an unregistered app was not dropped");
        Assert.NotNull(other.Of(App));
        Assert.Empty(_registry.ListRuns(App));
    }

    private async Task WriteAsync(IEnumerable<PreferencePair> pairs)
    {
        var output = new ExtractionOutput();
        output.Pairs.AddRange(pairs);
        await new DatasetStore(_root).WriteAsync(output);
    }

    private async Task<ReviewWaitRecord> WaitUntilAsync(Func<ReviewWaitRecord?, bool> condition)
    {
        ReviewWaitRecord? seen = null;
        Assert.True(await Eventually.TrueAsync(() => condition(seen = _waits.Of(App)), Deadline), $"the wait did not reach the expected state; last seen: {seen}");
        return seen!;
    }

    private async Task<RunRecord> RunEndedAsync(int count)
    {
        Assert.True(await Eventually.TrueAsync(() => _registry.ListRuns(App).Count(r => r.Status != RunStatus.Running) == count, Deadline), "the run did not finish in time");
        return _registry.ListRuns(App)[count - 1];
    }

    private static List<PreferencePair> Pairs(int first, int count) =>
    [
        .. Enumerable.Range(first, count).Select(n =>
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
