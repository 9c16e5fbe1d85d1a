using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Orchestration.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>What people do to models (approve, promote by hand, roll back), and the migration of a file from before jobs existed.</summary>
/// <summary>Run on both engines: <see cref="ModelActionTestsOnSqlite"/> and <see cref="ModelActionTestsOnPostgres"/> (below).</summary>
public abstract class ModelActionTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database;
    private readonly FakeTimeProvider _clock = new(Start);

    protected ModelActionTests(PostgresServer? server) => _database = new TempDatabase(server);

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    private ModelRegistry Open() => new(_database.Location, _clock);

    /// <summary>Registers run n's candidate; a decision promotes it (and, when <paramref name="promoteNow"/>, it is promoted).</summary>
    private static string Candidate(ModelRegistry registry, int n, bool? passed, bool promoteNow)
    {
        var version = $"demo-m{n}";
        var run = $"demo-run-{n}";
        registry.TryStartRun(run, "demo", new DatasetSnapshot("demo", [new SnapshotFile("p.parquet", n)]));
        registry.RegisterCandidate(new ModelVersionRecord(version, "demo", null, run, "[]", $"models/{version}", "{}", ModelStatus.Candidate, Start));
        if (passed is { } p)
        {
            registry.RecordDecision(version, p, 0.7, null, 0, null, p ? "passed" : "failed the margin", Start);
        }

        if (promoteNow)
        {
            registry.Promote(version);
        }

        registry.CompleteRun(run, RunStatus.Completed, "done");
        return version;
    }

    [Fact]
    public void A_candidate_awaiting_sign_off_is_promoted_by_its_approval_which_is_recorded()
    {
        var registry = Open();
        var first = Candidate(registry, 100, passed: true, promoteNow: true);
        var waiting = Candidate(registry, 200, passed: true, promoteNow: false);
        Assert.True(registry.ListModels("demo").Single(m => m.Model.Version == waiting).AwaitingSignoff);
        _clock.Advance(TimeSpan.FromMinutes(3));

        var replaced = registry.Approve(waiting, "alice", "looked at 20 samples");

        Assert.Equal(first, replaced);
        Assert.Equal(waiting, registry.CurrentModel("demo")!.Version);
        var action = Assert.Single(registry.ListActions(waiting));
        Assert.Equal(("approve", "alice", Start.AddMinutes(3), "looked at 20 samples"), (action.Action, action.Actor, action.ActedAt, action.Note));
        Assert.Equal("retired", registry.ListModels("demo").Single(m => m.Model.Version == first).StatusText);
    }

    [Theory]
    [InlineData(null, "has no gate decision yet")]
    [InlineData(false, "is rejected, not a candidate waiting for sign-off")]
    public void Only_a_candidate_that_passed_the_gate_can_be_approved(bool? passed, string why)
    {
        var registry = Open();
        var version = Candidate(registry, 100, passed, promoteNow: false);

        var refusal = Assert.Throws<InvalidOperationException>(() => registry.Approve(version, "alice"));

        Assert.Contains(why, refusal.Message, StringComparison.Ordinal);
        Assert.Null(registry.CurrentModel("demo"));
        Assert.Empty(registry.ListActions(version));
    }

    [Fact]
    public void A_promoted_model_cannot_be_approved_again()
    {
        var registry = Open();
        var version = Candidate(registry, 100, passed: true, promoteNow: true);

        var refusal = Assert.Throws<InvalidOperationException>(() => registry.Approve(version, "alice"));

        Assert.Contains("is promoted", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Promoting_by_hand_overrides_an_undecided_candidate_but_never_a_rejected_one()
    {
        var registry = Open();
        var undecided = Candidate(registry, 100, passed: null, promoteNow: false);
        var rejected = Candidate(registry, 200, passed: false, promoteNow: false);

        Assert.Null(registry.PromoteByHand(undecided, "bob", "the gate job failed, numbers checked by hand"));
        Assert.Throws<InvalidOperationException>(() => registry.PromoteByHand(rejected, "bob"));
        Assert.Throws<InvalidOperationException>(() => registry.PromoteByHand(undecided, "bob"));

        Assert.Equal(undecided, registry.CurrentModel("demo")!.Version);
        Assert.Equal("promote", Assert.Single(registry.ListActions(undecided)).Action);
        Assert.Empty(registry.ListActions(rejected));
    }

    [Fact]
    public void Rollback_puts_back_the_most_recently_retired_model_or_the_one_named()
    {
        var registry = Open();
        var first = Candidate(registry, 100, passed: true, promoteNow: true);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var second = Candidate(registry, 200, passed: true, promoteNow: true);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var third = Candidate(registry, 300, passed: true, promoteNow: true);

        Assert.Equal(second, registry.Rollback("demo", null, "carol"));
        Assert.Equal(second, registry.CurrentModel("demo")!.Version);
        Assert.Equal(first, registry.Rollback("demo", first, "carol"));
        Assert.Equal(first, registry.CurrentModel("demo")!.Version);
        Assert.Equal(["rollback"], registry.ListActions(first).Select(a => a.Action));
        // The current model is not retired, and a version of another status is refused by name.
        Assert.Throws<InvalidOperationException>(() => registry.Rollback("demo", first, "carol"));
        Assert.Throws<InvalidOperationException>(() => registry.Rollback("demo", "demo-m999", "carol"));
        Assert.Contains(third, registry.ListModels("demo").Where(m => m.Model.Status == ModelStatus.Retired).Select(m => m.Model.Version));
    }

    [Fact]
    public void Rollback_without_a_retired_model_says_so()
    {
        var registry = Open();
        Candidate(registry, 100, passed: true, promoteNow: true);

        var refusal = Assert.Throws<InvalidOperationException>(() => registry.Rollback("demo", null, "carol"));

        Assert.StartsWith("app 'demo' has no retired model to roll back to", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_of_the_first_schema_gains_the_job_tables_and_keeps_its_rows()
    {
        // The registry as the build before jobs wrote it: schema 1 only, with a run in it.
        using (var connection = _database.ConnectRaw())
        {
            foreach (var statement in StoreSchema.Migrations.Single(m => m.Version == 1).Statements)
            {
                using var create = connection.CreateCommand();
                create.CommandText = statement;
                create.ExecuteNonQuery();
            }

            using var rows = connection.CreateCommand();
            rows.CommandText =
                """
                INSERT INTO schema_version (version, applied_at) VALUES (1, '2024-01-01T00:00:00.0000000Z');
                INSERT INTO runs (run_id, app_id, status, snapshot, total_pairs, started_at)
                VALUES ('demo-run-1', 'demo', 'running', '{"files":[],"total_pairs":5}', 5, '2024-01-01T00:00:00.0000000Z');
                """;
            rows.ExecuteNonQuery();
        }

        var registry = Open();
        var jobs = new FeedbackLoop.Orchestration.Jobs.JobStore(_database.Location, _clock);

        Assert.Equal(RunStatus.Running, registry.GetRun("demo-run-1")!.Status);
        Assert.Empty(jobs.List());
        using var check = _database.ConnectRaw();
        using var versions = check.CreateCommand();
        versions.CommandText = "SELECT version FROM schema_version ORDER BY version";
        using var reader = versions.ExecuteReader();
        var applied = new List<long>();
        while (reader.Read())
        {
            applied.Add(reader.GetInt64(0));
        }

        Assert.Equal(Enumerable.Range(1, StoreSchema.Version).Select(v => (long)v), applied);
    }
}

public sealed class ModelActionTestsOnSqlite() : ModelActionTests(null);

[Collection(PostgresCollection.Name)]
public sealed class ModelActionTestsOnPostgres(PostgresServer server) : ModelActionTests(server);
