using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Tests.Support;
using FeedbackLoop.Pipelines;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>Canary rollouts in the store: opened by a promotion, decided by the monitor or a person, ended and announced.</summary>
/// <summary>Run on both engines: <see cref="RolloutStoreTestsOnSqlite"/> and <see cref="RolloutStoreTestsOnPostgres"/> (below).</summary>
public abstract class RolloutStoreTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RolloutSettings TenPercent = new(10, TimeSpan.FromHours(24));

    private readonly TempDatabase _database;
    private readonly FakeTimeProvider _clock = new(Start);

    protected RolloutStoreTests(PostgresServer? server) => _database = new TempDatabase(server);

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    private ModelRegistry Open() => new(_database.Location, _clock);

    private static string Candidate(ModelRegistry registry, int n)
    {
        var version = $"shop-m{n}";
        var run = $"shop-run-{n}";
        registry.TryStartRun(run, "shop", new DatasetSnapshot("shop", [new SnapshotFile("p.parquet", n)]));
        registry.RegisterCandidate(new ModelVersionRecord(version, "shop", null, run, "[]", $"models/{version}", "{}", ModelStatus.Candidate, Start));
        registry.RecordDecision(version, true, 0.7, null, 0, null, "passed", Start);
        registry.CompleteRun(run, RunStatus.Completed, "done");
        return version;
    }

    /// <summary>shop-m100 serves everyone (the first model has nothing to be compared with); shop-m200 is promoted as a canary.</summary>
    private (ModelRegistry Registry, RolloutRecord Rollout) Canary()
    {
        var registry = Open();
        registry.Promote(Candidate(registry, 100), TenPercent);
        registry.Promote(Candidate(registry, 200), TenPercent);
        _clock.Advance(TimeSpan.FromMinutes(5));
        return (registry, registry.OpenRollout("shop")!);
    }

    private static RolloutDecision Look(long stableEngaged, long canaryEngaged, double hours = 1) =>
        RolloutPolicy.Decide(new(2000, stableEngaged), new(2000, canaryEngaged), TimeSpan.FromHours(hours), TimeSpan.FromHours(24), new SequentialTestOptions());

    [Fact]
    public void A_promoted_candidate_opens_a_rollout_against_the_model_it_replaces_and_serves_its_share()
    {
        var (registry, rollout) = Canary();

        Assert.Equal(("shop-m200-canary", "shop-m200", "shop-m100", 10, RolloutState.Active, Start),
            (rollout.RolloutId, rollout.Version, rollout.StableVersion, rollout.CanaryPercent, rollout.State, rollout.StartedAt));
        var serving = registry.Serving("shop");
        Assert.Equal(("shop-m100", "models/shop-m100"), (serving.Stable!.Version, serving.Stable.Artifact));
        Assert.Equal(("shop-m200", 10), (serving.Rollout!.Canary.Version, serving.Rollout.Percent));
        Assert.Equal("shop-m200", registry.CurrentModel("shop")!.Version);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(null)]
    public void Without_a_canary_share_a_promotion_serves_everyone_at_once(int? percent)
    {
        var registry = Open();
        registry.Promote(Candidate(registry, 100), TenPercent);
        registry.Promote(Candidate(registry, 200), percent is { } p ? TenPercent with { CanaryPercent = p } : null);

        Assert.Null(registry.OpenRollout("shop"));
        Assert.Equal(new AppServing("shop", new ServedModel("shop-m200", "models/shop-m200"), null), registry.Serving("shop"));
    }

    [Fact]
    public void An_extension_is_stored_with_its_numbers_and_changes_nothing_served()
    {
        var (registry, rollout) = Canary();

        Assert.True(registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 590)));

        var decision = Assert.Single(registry.RolloutDecisions(rollout.RolloutId));
        Assert.Equal(("extend", RolloutText.Monitor, false, new ArmCounts(2000, 600), new ArmCounts(2000, 590)),
            (decision.Decision, decision.Actor, decision.ByPerson, decision.Stable, decision.Canary));
        Assert.NotNull(decision.Interval);
        Assert.Equal(RolloutState.Active, registry.GetRollout(rollout.RolloutId)!.State);
        Assert.Empty(registry.UnannouncedActions(10));
    }

    [Fact]
    public void A_regression_rolls_back_to_the_stable_model_records_it_on_both_versions_and_announces_it()
    {
        var (registry, rollout) = Canary();

        Assert.True(registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 400)));

        var ended = registry.GetRollout(rollout.RolloutId)!;
        Assert.Equal((RolloutState.RolledBack, Start.AddMinutes(5)), (ended.State, ended.EndedAt));
        Assert.StartsWith("canary engagement is lower: canary 0.200 (400 of 2000) vs stable 0.300 (600 of 2000)", ended.Reason, StringComparison.Ordinal);
        Assert.Equal("shop-m100", registry.CurrentModel("shop")!.Version);
        Assert.Equal(new AppServing("shop", new ServedModel("shop-m100", "models/shop-m100"), null), registry.Serving("shop"));
        Assert.Equal(("rollback", RolloutText.Monitor, "shop-m200"), registry.ListActions("shop-m100").Select(a => (a.Action, a.Actor, a.OtherVersion)).Single());
        Assert.Equal("rolled_back", registry.ListActions("shop-m200").Single().Action);
        var announced = Assert.Single(registry.UnannouncedActions(10));
        Assert.Equal(("rollback", "shop-m100", "shop-m200", ended.Reason), (announced.Action, announced.Version, announced.OtherVersion, announced.Note));
    }

    [Fact]
    public void A_canary_that_holds_up_is_promoted_to_everyone_and_announced()
    {
        var (registry, rollout) = Canary();

        Assert.True(registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 800)));

        Assert.Equal(RolloutState.Promoted, registry.GetRollout(rollout.RolloutId)!.State);
        Assert.Equal(new AppServing("shop", new ServedModel("shop-m200", "models/shop-m200"), null), registry.Serving("shop"));
        var announced = Assert.Single(registry.UnannouncedActions(10));
        Assert.Equal(("promote", "shop-m200", "shop-m100", RolloutText.Monitor), (announced.Action, announced.Version, announced.OtherVersion, announced.Actor));
    }

    [Fact]
    public void A_halted_rollout_serves_stable_to_everyone_and_takes_no_automatic_decision_until_a_person_ends_it()
    {
        var (registry, rollout) = Canary();

        registry.HaltRollout(rollout.RolloutId, "alice", "support tickets about tone");

        Assert.Equal(0, registry.Serving("shop").Rollout!.Percent);
        Assert.False(registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 800)));
        Assert.Equal(RolloutState.Halted, registry.GetRollout(rollout.RolloutId)!.State);

        registry.EndRolloutByPerson(rollout.RolloutId, promote: false, "alice", "tone regression confirmed");

        Assert.Equal("shop-m100", registry.CurrentModel("shop")!.Version);
        Assert.Equal(["halt", "rollback"], registry.RolloutDecisions(rollout.RolloutId).Select(d => d.Decision));
        Assert.All(registry.RolloutDecisions(rollout.RolloutId), d => Assert.True(d.ByPerson));
        var announced = Assert.Single(registry.UnannouncedActions(10));
        Assert.Equal(("rollback", "alice", "tone regression confirmed"), (announced.Action, announced.Actor, announced.Note));
    }

    [Fact]
    public void A_person_can_promote_a_canary_whatever_the_test_says()
    {
        var (registry, rollout) = Canary();
        registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 590));

        registry.EndRolloutByPerson(rollout.RolloutId, promote: true, "bob", "the new tone is what product asked for");

        Assert.Equal(RolloutState.Promoted, registry.GetRollout(rollout.RolloutId)!.State);
        Assert.Equal(("promote", "bob"), registry.UnannouncedActions(10).Select(a => (a.Action, a.Actor)).Single());
    }

    [Theory]
    [InlineData("halt")]
    [InlineData("promote")]
    [InlineData("rollback")]
    public void Actions_on_an_ended_rollout_or_without_a_reason_are_refused_with_the_reason(string action)
    {
        var (registry, rollout) = Canary();
        var none = Assert.Throws<InvalidOperationException>(() => Act(registry, action, rollout.RolloutId, " "));
        Assert.Contains("--reason", none.Message, StringComparison.Ordinal);
        registry.RecordRolloutDecision(rollout.RolloutId, Look(600, 400));

        var ended = Assert.Throws<InvalidOperationException>(() => Act(registry, action, rollout.RolloutId, "why"));

        Assert.Contains("rolled_back", ended.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => Act(registry, action, "nope-canary", "why"));
    }

    private static void Act(ModelRegistry registry, string action, string rolloutId, string reason)
    {
        switch (action)
        {
            case "halt":
                registry.HaltRollout(rolloutId, "alice", reason);
                break;
            default:
                registry.EndRolloutByPerson(rolloutId, action == "promote", "alice", reason);
                break;
        }
    }

    [Fact]
    public void A_rollback_by_hand_during_a_rollout_ends_it_as_rolled_back_and_a_newer_promotion_supersedes_it()
    {
        var (registry, rollout) = Canary();
        registry.Rollback("shop", null, "alice", "by hand");
        Assert.Equal(RolloutState.RolledBack, registry.GetRollout(rollout.RolloutId)!.State);

        registry.Promote(Candidate(registry, 300), TenPercent);
        var next = registry.OpenRollout("shop")!;
        registry.Promote(Candidate(registry, 400), TenPercent);

        Assert.Equal(RolloutState.Superseded, registry.GetRollout(next.RolloutId)!.State);
        Assert.Equal(("shop-m400", "shop-m300"), (registry.OpenRollout("shop")!.Version, registry.OpenRollout("shop")!.StableVersion));
        Assert.Equal(["shop-m400-canary", "shop-m300-canary", "shop-m200-canary"], registry.ListRollouts("shop").Select(r => r.RolloutId));
    }
}

public sealed class RolloutStoreTestsOnSqlite() : RolloutStoreTests(null);

[Collection(PostgresCollection.Name)]
public sealed class RolloutStoreTestsOnPostgres(PostgresServer server) : RolloutStoreTests(server);
