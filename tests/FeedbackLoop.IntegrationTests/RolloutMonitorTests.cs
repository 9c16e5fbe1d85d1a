using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Rollouts;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 14, item 3: the rollout monitor reads real engagement datasets (Parquet files written by the extractor's sink,
/// read by the dataset reader the orchestrator uses) and decides, stores and queues the announcement.
/// </summary>
public sealed class RolloutMonitorTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new("rollout-monitor");
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly OrchestrationTelemetry _telemetry = new();
    private readonly ModelRegistry _registry;
    private readonly RolloutMonitor _monitor;
    private int _partition;

    public RolloutMonitorTests()
    {
        _registry = new ModelRegistry(_folder.Combine("registry.db"), _clock);
        _monitor = new RolloutMonitor(_registry, (app, ct) => DatasetReader.ReadEngagementTotalsAsync(Data, app, ct), new SequentialTestOptions(),
            _telemetry, _clock, NullLogger<RolloutMonitor>.Instance);
        var rollout = new RolloutSettings(10, TimeSpan.FromHours(24));
        _registry.Promote(Candidate(100), rollout);
        _registry.Promote(Candidate(200), rollout);
    }

    private string Data => _folder.Combine("data");

    public void Dispose()
    {
        _telemetry.Dispose();
        _folder.Dispose();
    }

    private string Candidate(int n)
    {
        var version = $"shop-m{n}";
        _registry.TryStartRun($"shop-run-{n}", "shop", new DatasetSnapshot("shop", [new SnapshotFile("p.parquet", n)]));
        _registry.RegisterCandidate(new ModelVersionRecord(version, "shop", null, $"shop-run-{n}", "[]", $"models/{version}", "{}", ModelStatus.Candidate, Start));
        _registry.RecordDecision(version, true, 0.7, null, 0, null, "passed", Start);
        _registry.CompleteRun($"shop-run-{n}", RunStatus.Completed, "done");
        return version;
    }

    /// <summary>Commits one engagement window of (version, variant) at <paramref name="minutes"/> after the rollout started, as its own partition's row.</summary>
    private async Task CommitAsync(string version, string variant, int minutes, long shown, long thumbsUp)
    {
        var output = new ExtractionOutput();
        var at = Start.AddMinutes(minutes);
        var partition = _partition++;
        output.Windows.Add(new EngagementWindow(StableId.Of("engagement", "shop", $"{version}|{variant}|{minutes}|{partition}"), "shop", version, variant,
            at, at.AddMinutes(1), shown, thumbsUp, 0, 0, 0, 0, 0, 0, 0, 0, 0, null, null, null, partition));
        await new DatasetStore(Data).WriteAsync(output);
    }

    [Fact]
    public async Task A_canary_with_lower_engagement_on_concurrent_sessions_is_rolled_back_with_its_numbers_and_the_rollback_queued_for_announcement()
    {
        // Before the rollout the stable model did badly; only concurrent windows count, so this must not make the canary look good.
        await CommitAsync("shop-m100", "stable", -30, 5000, 500);
        await CommitAsync("shop-m100", "stable", 1, 1000, 300);
        await CommitAsync("shop-m100", "stable", 2, 1000, 300);
        await CommitAsync("shop-m200", "canary", 1, 1000, 200);
        await CommitAsync("shop-m200", "canary", 2, 1000, 200);
        _clock.Advance(TimeSpan.FromMinutes(5));

        var (rollout, decision) = Assert.Single(await _monitor.LookAsync(CancellationToken.None));

        Assert.Equal(("shop-m200-canary", RolloutStep.RollBack), (rollout.RolloutId, decision.Step));
        Assert.Equal((new ArmCounts(2000, 600), new ArmCounts(2000, 400)), (decision.Test.Stable, decision.Test.Canary));
        Assert.Equal("shop-m100", _registry.CurrentModel("shop")!.Version);
        var stored = Assert.Single(_registry.RolloutDecisions(rollout.RolloutId));
        Assert.Equal(("rollback", RolloutText.Monitor, new ArmCounts(2000, 600)), (stored.Decision, stored.Actor, stored.Stable!.Value));
        var announcement = Assert.Single(_registry.UnannouncedActions(10));
        Assert.Equal(("rollback", "shop-m100", "shop-m200"), (announcement.Action, announcement.Version, announcement.OtherVersion));
        Assert.StartsWith("canary engagement is lower: canary 0.200 (400 of 2000) vs stable 0.300 (600 of 2000)", announcement.Note, StringComparison.Ordinal);

        // Ended: the next look has nothing to decide.
        Assert.Empty(await _monitor.LookAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_undecided_rollout_is_extended_once_per_change_in_its_counts_and_ends_at_its_time_limit()
    {
        await CommitAsync("shop-m100", "stable", 1, 300, 90);
        await CommitAsync("shop-m200", "canary", 1, 300, 90);

        Assert.Equal(RolloutStep.Extend, Assert.Single(await _monitor.LookAsync(CancellationToken.None)).Decision.Step);
        Assert.Empty(await _monitor.LookAsync(CancellationToken.None));

        await CommitAsync("shop-m200", "canary", 2, 20, 6);
        Assert.Equal(RolloutStep.Extend, Assert.Single(await _monitor.LookAsync(CancellationToken.None)).Decision.Step);

        _clock.Advance(TimeSpan.FromHours(24));
        var (_, last) = Assert.Single(await _monitor.LookAsync(CancellationToken.None));

        Assert.Equal(RolloutStep.Promote, last.Step);
        Assert.StartsWith("time limit of 24h reached without a decision (promoting as configured)", last.Reason, StringComparison.Ordinal);
        Assert.Equal(["extend", "extend", "promote"], _registry.RolloutDecisions("shop-m200-canary").Select(d => d.Decision));
        Assert.Equal(("promote", "shop-m200"), _registry.UnannouncedActions(10).Select(a => (a.Action, a.Version)).Single());
    }
}
