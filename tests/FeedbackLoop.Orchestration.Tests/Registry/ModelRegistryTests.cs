using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>Run on both engines: <see cref="ModelRegistryTestsOnSqlite"/> and <see cref="ModelRegistryTestsOnPostgres"/> (below).</summary>
public abstract class ModelRegistryTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database;
    private readonly FakeTimeProvider _clock = new(Start);

    protected ModelRegistryTests(PostgresServer? server) => _database = new TempDatabase(server);

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    private ModelRegistry Open() => new(_database.Location, _clock);

    private static DatasetSnapshot Snapshot(long pairs, string app = "demo") =>
        new(app, [new SnapshotFile($"datasets/{app}/preference-pairs/part-000.parquet", pairs)]);

    private ModelVersionRecord Candidate(string version, string runId, string? parent = null, string app = "demo") =>
        new(version, app, parent, runId, """[{"path":"part-000.parquet","rows":250}]""", $"artifacts/{version}",
            """{"train_pairs":200,"train_accuracy":0.71}""", ModelStatus.Candidate, _clock.GetUtcNow());

    [Fact]
    public void A_run_starts_with_its_snapshot_and_the_clocks_time()
    {
        var registry = Open();

        Assert.True(registry.TryStartRun("demo-run-1", "demo", Snapshot(250)));

        var run = registry.GetRun("demo-run-1")!;
        Assert.Equal(("demo", RunStatus.Running, Start, (DateTimeOffset?)null, (string?)null), (run.AppId, run.Status, run.StartedAt, run.CompletedAt, run.Reason));
        Assert.Equal(250, run.Snapshot.TotalPairs);
        Assert.Equal(Snapshot(250).Files, run.Snapshot.Files);
    }

    [Fact]
    public void Starting_the_same_run_twice_keeps_one_row_and_reports_it_in_flight()
    {
        var registry = Open();
        registry.TryStartRun("demo-run-1", "demo", Snapshot(250));
        _clock.Advance(TimeSpan.FromSeconds(5));

        Assert.True(registry.TryStartRun("demo-run-1", "demo", Snapshot(250)));

        var run = Assert.Single(registry.ListRuns("demo"));
        Assert.Equal(Start, run.StartedAt);
    }

    [Fact]
    public void An_app_has_at_most_one_run_in_flight()
    {
        var registry = Open();
        registry.TryStartRun("demo-run-1", "demo", Snapshot(250));

        Assert.False(registry.TryStartRun("demo-run-2", "demo", Snapshot(500)));
        Assert.Null(registry.GetRun("demo-run-2"));
        Assert.Throws<InvalidOperationException>(() => registry.StartRun("demo-run-2", "demo", Snapshot(500)));

        Assert.True(registry.TryStartRun("chat-run-1", "chat", Snapshot(300, "chat")));

        registry.CompleteRun("demo-run-1", RunStatus.Completed, "promoted");
        Assert.True(registry.TryStartRun("demo-run-2", "demo", Snapshot(500)));
    }

    [Fact]
    public void Racing_registries_on_one_file_start_one_run()
    {
        Open();
        var started = new bool[8];

        Parallel.For(0, started.Length, i => started[i] = new ModelRegistry(_database.Location, _clock).TryStartRun($"demo-run-{i}", "demo", Snapshot(250 + i)));

        Assert.Single(started, s => s);
        Assert.Single(Open().ListRuns("demo"));
    }

    [Fact]
    public void A_run_that_has_ended_does_not_start_again()
    {
        var registry = Open();
        registry.TryStartRun("demo-run-1", "demo", Snapshot(250));
        registry.CompleteRun("demo-run-1", RunStatus.Failed, "trainer crashed");

        Assert.False(registry.TryStartRun("demo-run-1", "demo", Snapshot(250)));
        Assert.Equal(RunStatus.Failed, registry.GetRun("demo-run-1")!.Status);
    }

    [Fact]
    public void A_run_id_of_another_app_is_refused()
    {
        var registry = Open();
        registry.TryStartRun("run-1", "demo", Snapshot(250));

        Assert.Throws<InvalidOperationException>(() => registry.TryStartRun("run-1", "chat", Snapshot(250, "chat")));
    }

    [Fact]
    public void Completing_twice_keeps_the_first_ending()
    {
        var registry = Open();
        registry.TryStartRun("demo-run-1", "demo", Snapshot(250));
        _clock.Advance(TimeSpan.FromMinutes(3));

        Assert.True(registry.CompleteRun("demo-run-1", RunStatus.Completed, "promoted"));
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.False(registry.CompleteRun("demo-run-1", RunStatus.Failed, "redelivered"));

        var run = registry.GetRun("demo-run-1")!;
        Assert.Equal((RunStatus.Completed, "promoted", (DateTimeOffset?)Start.AddMinutes(3)), (run.Status, run.Reason, run.CompletedAt));
    }

    [Fact]
    public void Completing_an_unknown_run_fails()
    {
        Assert.Throws<InvalidOperationException>(() => Open().CompleteRun("nope", RunStatus.Completed, null));
    }

    [Fact]
    public void The_last_run_pair_count_is_that_of_the_latest_run_whatever_its_outcome()
    {
        var registry = Open();
        Assert.Equal(0, registry.LastRunPairCount("demo"));

        registry.TryStartRun("demo-run-1", "demo", Snapshot(250));
        registry.CompleteRun("demo-run-1", RunStatus.Completed, "promoted");
        _clock.Advance(TimeSpan.FromHours(1));
        registry.TryStartRun("demo-run-2", "demo", Snapshot(480));
        registry.CompleteRun("demo-run-2", RunStatus.Failed, "trainer crashed");
        registry.TryStartRun("chat-run-1", "chat", Snapshot(9000, "chat"));

        Assert.Equal(480, registry.LastRunPairCount("demo"));
        Assert.Equal(["demo-run-1", "demo-run-2"], registry.ListRuns("demo").Select(r => r.RunId));
    }

    [Fact]
    public void Registering_the_same_candidate_twice_keeps_one_row()
    {
        var registry = Open();
        var candidate = Candidate("demo-m250", "demo-run-1");

        Assert.True(registry.RegisterCandidate(candidate));
        Assert.False(registry.RegisterCandidate(candidate));

        var entry = Assert.Single(registry.ListModels("demo"));
        Assert.Equal(candidate, entry.Model);
        Assert.Equal(candidate, registry.GetModel("demo-m250"));
    }

    [Fact]
    public void A_version_registered_for_another_run_is_refused()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        Assert.Throws<InvalidOperationException>(() => registry.RegisterCandidate(Candidate("demo-m250", "demo-run-2")));
    }

    [Fact]
    public void A_registration_must_be_a_candidate_with_json_fields()
    {
        var registry = Open();

        Assert.Throws<ArgumentException>(() => registry.RegisterCandidate(Candidate("v1", "r1") with { Status = ModelStatus.Promoted }));
        Assert.Throws<ArgumentException>(() => registry.RegisterCandidate(Candidate("v1", "r1") with { TrainMetricsJson = "accuracy=0.7" }));
        Assert.Empty(registry.ListModels("demo"));
    }

    [Fact]
    public void Promoting_retires_the_previous_model_of_the_app_only()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));
        registry.RegisterCandidate(Candidate("chat-m100", "chat-run-1", app: "chat"));
        registry.Promote("demo-m250");
        registry.Promote("chat-m100");
        _clock.Advance(TimeSpan.FromHours(1));
        registry.RegisterCandidate(Candidate("demo-m480", "demo-run-2", parent: "demo-m250"));

        Assert.True(registry.Promote("demo-m480"));

        Assert.Equal("demo-m480", registry.CurrentModel("demo")!.Version);
        Assert.Equal(ModelStatus.Retired, registry.GetModel("demo-m250")!.Status);
        Assert.Equal(ModelStatus.Promoted, registry.GetModel("chat-m100")!.Status);
        var retired = registry.ListModels("demo").Single(m => m.Model.Version == "demo-m250");
        Assert.Equal(Start.AddHours(1), retired.StatusChangedAt);
    }

    [Fact]
    public void Promoting_twice_changes_nothing_the_second_time()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        Assert.True(registry.Promote("demo-m250"));
        Assert.False(registry.Promote("demo-m250"));
        Assert.Equal(ModelStatus.Promoted, registry.CurrentModel("demo")!.Status);
    }

    [Fact]
    public void A_retired_model_can_be_promoted_again_as_a_rollback()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));
        registry.RegisterCandidate(Candidate("demo-m480", "demo-run-2"));
        registry.Promote("demo-m250");
        registry.Promote("demo-m480");

        registry.Promote("demo-m250");

        Assert.Equal("demo-m250", registry.CurrentModel("demo")!.Version);
        Assert.Equal(ModelStatus.Retired, registry.GetModel("demo-m480")!.Status);
    }

    [Fact]
    public void An_app_without_a_promotion_has_no_current_model()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        Assert.Null(registry.CurrentModel("demo"));
    }

    [Fact]
    public void A_rejection_marks_the_candidate_rejected_and_it_cannot_be_promoted()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        registry.RecordDecision("demo-m250", false, 0.61, 0.64, -0.03, -0.07, "worse than the incumbent", Start);

        Assert.Equal(ModelStatus.Rejected, registry.GetModel("demo-m250")!.Status);
        Assert.Throws<InvalidOperationException>(() => registry.Promote("demo-m250"));
    }

    [Fact]
    public void A_pass_leaves_the_candidate_waiting_for_promotion()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        registry.RecordDecision("demo-m250", true, 0.7, null, 0, null, "first model", Start);

        Assert.Equal(ModelStatus.Candidate, registry.GetModel("demo-m250")!.Status);
    }

    [Fact]
    public void Recording_a_decision_twice_keeps_the_first()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        Assert.True(registry.RecordDecision("demo-m250", true, 0.7, null, 0, null, "first model", Start));
        Assert.False(registry.RecordDecision("demo-m250", false, 0.1, null, 0, null, "redelivered", Start.AddMinutes(1)));

        var entry = Assert.Single(registry.ListModels("demo"));
        Assert.Equal(("first model", ModelStatus.Candidate), (entry.Decision!.Reason, entry.Model.Status));
    }

    [Fact]
    public void A_decision_on_an_unknown_version_fails()
    {
        Assert.Throws<InvalidOperationException>(() => Open().RecordDecision("nope", true, 0.7, null, 0, null, "x", Start));
    }

    [Fact]
    public void The_model_list_carries_snapshot_metrics_decision_and_status()
    {
        var registry = Open();
        var first = Candidate("demo-m250", "demo-run-1");
        registry.RegisterCandidate(first);
        registry.RecordDecision("demo-m250", true, 0.7, null, 0, null, "first model", Start.AddMinutes(2));
        registry.Promote("demo-m250");
        _clock.Advance(TimeSpan.FromHours(1));
        var second = Candidate("demo-m480", "demo-run-2", parent: "demo-m250");
        registry.RegisterCandidate(second);

        var models = registry.ListModels("demo");

        Assert.Equal(["demo-m250", "demo-m480"], models.Select(m => m.Model.Version));
        Assert.Equal(first with { Status = ModelStatus.Promoted }, models[0].Model);
        Assert.Equal(new GateDecisionRecord("demo-m250", true, 0.7, null, 0, null, "first model", Start.AddMinutes(2)), models[0].Decision);
        Assert.Equal(second, models[1].Model);
        Assert.Null(models[1].Decision);
    }

    [Fact]
    public void Decision_numbers_keep_full_precision()
    {
        var registry = Open();
        registry.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));

        registry.RecordDecision("demo-m250", true, 0.7123456789012345, 0.6987654321098765, 0.013580246791358, 0.0011111111111111, "passed", Start);

        var decision = registry.ListModels("demo").Single().Decision!;
        Assert.Equal((0.7123456789012345, (double?)0.6987654321098765, 0.013580246791358, (double?)0.0011111111111111),
            (decision.CandidateAccuracy, decision.IncumbentAccuracy, decision.Difference, decision.Lower95));
    }

    [Fact]
    public void Everything_survives_reopening_the_file()
    {
        var before = Open();
        before.TryStartRun("demo-run-1", "demo", Snapshot(250));
        before.RegisterCandidate(Candidate("demo-m250", "demo-run-1"));
        before.RecordDecision("demo-m250", true, 0.7, null, 0, null, "first model", Start);
        before.Promote("demo-m250");
        before.CompleteRun("demo-run-1", RunStatus.Completed, "first model");
        var runs = before.ListRuns("demo");
        var models = before.ListModels("demo");

        var after = Open();

        Assert.Equal(runs.Single() with { Snapshot = null! }, after.ListRuns("demo").Single() with { Snapshot = null! });
        Assert.Equal(runs.Single().Snapshot.Files, after.GetRun("demo-run-1")!.Snapshot.Files);
        Assert.Equal(models, after.ListModels("demo"));
        Assert.Equal("demo-m250", after.CurrentModel("demo")!.Version);
        Assert.True(after.TryStartRun("demo-run-2", "demo", Snapshot(480)));
    }

    [Fact]
    public void A_run_keeps_the_first_trace_context_recorded_for_it()
    {
        var registry = Open();
        Assert.True(registry.TryStartRun("demo-run-1", "demo", Snapshot(100)));
        Assert.Null(registry.TraceParentOf("demo-run-1"));

        registry.RecordTraceParent("demo-run-1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        registry.RecordTraceParent("demo-run-1", "00-11111111111111111111111111111111-2222222222222222-01");

        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", registry.TraceParentOf("demo-run-1"));
        Assert.Null(registry.TraceParentOf("demo-run-2"));
    }

    [Fact]
    public void A_file_from_a_newer_schema_is_refused()
    {
        // Written by a newer build: it records a version this build does not know.
        using (var connection = _database.ConnectRaw())
        {
            using var insert = connection.CreateCommand();
            insert.CommandText =
                """
                CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);
                INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01T00:00:00.0000000Z');
                """;
            insert.ExecuteNonQuery();
        }

        var refusal = Assert.Throws<InvalidDataException>(Open);

        Assert.Contains("schema version 99", refusal.Message, StringComparison.Ordinal);
        using var check = _database.ConnectRaw();
        using var tables = check.CreateCommand();
        tables.CommandText = _database.IsPostgres
            ? "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'";
        Assert.Equal(1L, tables.ExecuteScalar()); // refused before anything was created in it
    }
}

public sealed class ModelRegistryTestsOnSqlite() : ModelRegistryTests(null);

[Collection(PostgresCollection.Name)]
public sealed class ModelRegistryTestsOnPostgres(PostgresServer server) : ModelRegistryTests(server);
