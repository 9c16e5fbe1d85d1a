using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Orchestration.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>
/// Promotions that cannot go backwards by accident (issue 14, item 5): stale approvals, forced overrides and what they
/// record, rollbacks recorded on both versions, runs started by people, and the migration of a file of schema 3.
/// </summary>
/// <summary>Run on both engines: <see cref="PromotionSafetyTestsOnSqlite"/> and <see cref="PromotionSafetyTestsOnPostgres"/> (below).</summary>
public abstract class PromotionSafetyTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database;
    private readonly FakeTimeProvider _clock = new(Start);

    protected PromotionSafetyTests(PostgresServer? server) => _database = new TempDatabase(server);

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    private ModelRegistry Open() => new(_database.Location, _clock);

    /// <summary>Run n trains candidate slowapp-m{n} and the gate decides on it against whatever is current then.</summary>
    private string Candidate(ModelRegistry registry, int n, bool passed, bool promote = false)
    {
        var version = $"slowapp-m{n}";
        var run = $"slowapp-run-{n}";
        Assert.True(registry.TryStartRun(run, "slowapp", Snapshot(n)));
        registry.RegisterCandidate(new ModelVersionRecord(version, "slowapp", registry.CurrentModel("slowapp")?.Version, run, "[]",
            $"models/{version}", "{}", ModelStatus.Candidate, _clock.GetUtcNow()));
        registry.RecordDecision(version, passed, 0.7, 0.6, 0.1, 0.05, passed ? "candidate 0.700 vs incumbent 0.600" : "below the margin", _clock.GetUtcNow());
        if (promote)
        {
            registry.Promote(version);
        }

        registry.CompleteRun(run, RunStatus.Completed, "done");
        _clock.Advance(TimeSpan.FromMinutes(1));
        return version;
    }

    private static DatasetSnapshot Snapshot(long pairs) => new("slowapp", [new SnapshotFile("pairs.parquet", pairs)]);

    [Fact]
    public void Approving_the_older_of_two_waiting_candidates_after_the_newer_is_refused_and_names_both_models()
    {
        // The report: both waited for sign-off, gated against m200; approving m418 then m352 put m352 back over m418.
        var registry = Open();
        var m200 = Candidate(registry, 200, passed: true, promote: true);
        var m352 = Candidate(registry, 352, passed: true);
        var m418 = Candidate(registry, 418, passed: true);

        Assert.Equal(m200, registry.Approve(m418, "ana"));
        var refusal = Assert.Throws<InvalidOperationException>(() => registry.Approve(m352, "ana"));

        Assert.Contains("was gated against 'slowapp-m200', but the app's current model is now 'slowapp-m418'", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("--force --reason", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(m418, registry.CurrentModel("slowapp")!.Version);
        Assert.Empty(registry.ListActions(m352));
        Assert.Equal("awaiting_signoff", registry.ListModels("slowapp").Single(m => m.Model.Version == m352).StatusText);
        Assert.NotNull(registry.StaleGate(m352));
        Assert.Equal(m200, registry.GetDecision(m352)!.GatedAgainst);
    }

    [Fact]
    public void A_verdict_is_gated_against_the_model_the_eval_scored_even_when_another_became_current_meanwhile()
    {
        // The eval scored the candidate against m200 while a person promoted m418 by hand: the verdict is about m200.
        var registry = Open();
        var m200 = Candidate(registry, 200, passed: true, promote: true);
        var m418 = Candidate(registry, 418, passed: true);
        Assert.True(registry.TryStartRun("slowapp-run-500", "slowapp", Snapshot(500)));
        registry.RegisterCandidate(new ModelVersionRecord("slowapp-m500", "slowapp", m200, "slowapp-run-500", "[]", "models/slowapp-m500", "{}",
            ModelStatus.Candidate, _clock.GetUtcNow()));
        registry.PromoteByHand(m418, "ana");

        registry.RecordDecision("slowapp-m500", true, 0.8, 0.7, 0.1, 0.05, "candidate 0.800 vs incumbent 0.700", _clock.GetUtcNow(), comparedWith: m200);

        Assert.Equal(m200, registry.GetDecision("slowapp-m500")!.GatedAgainst);
        Assert.Contains("but the app's current model is now 'slowapp-m418'", registry.StaleGate("slowapp-m500"), StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => registry.Approve("slowapp-m500", "bob"));
    }

    [Fact]
    public void A_forced_approval_of_a_stale_candidate_records_who_why_and_what_it_overrode()
    {
        var registry = Open();
        Candidate(registry, 200, passed: true, promote: true);
        var m352 = Candidate(registry, 352, passed: true);
        var m418 = Candidate(registry, 418, passed: true);
        registry.Approve(m418, "ana");

        Assert.Equal(m418, registry.Approve(m352, "bob", "m418 answers in the wrong language", force: true));

        Assert.Equal(m352, registry.CurrentModel("slowapp")!.Version);
        var action = Assert.Single(registry.ListActions(m352));
        Assert.Equal(("approve", "bob", "m418 answers in the wrong language", true, m418), (action.Action, action.Actor, action.Note, action.Forced, action.OtherVersion));
        Assert.Contains("was gated against 'slowapp-m200'", action.Overrode, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("  ")]
    public void Force_without_a_reason_is_refused_before_anything_changes(string? reason)
    {
        var registry = Open();
        Candidate(registry, 200, passed: true, promote: true);
        var rejected = Candidate(registry, 300, passed: false);

        var refusal = Assert.Throws<InvalidOperationException>(() => registry.PromoteByHand(rejected, "bob", reason, force: true));

        Assert.Contains("--force needs --reason", refusal.Message, StringComparison.Ordinal);
        Assert.Equal("slowapp-m200", registry.CurrentModel("slowapp")!.Version);
    }

    [Fact]
    public void A_rejected_candidate_is_promoted_by_hand_only_when_forced_and_the_override_is_recorded()
    {
        var registry = Open();
        var m200 = Candidate(registry, 200, passed: true, promote: true);
        var rejected = Candidate(registry, 300, passed: false);

        var refusal = Assert.Throws<InvalidOperationException>(() => registry.PromoteByHand(rejected, "bob", "looks fine"));
        Assert.Contains("was rejected by the gate (below the margin); pass --force --reason <why> to override", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(m200, registry.CurrentModel("slowapp")!.Version);

        Assert.Equal(m200, registry.PromoteByHand(rejected, "bob", "the eval set is stale; checked 50 samples by hand", force: true));

        Assert.Equal(rejected, registry.CurrentModel("slowapp")!.Version);
        var action = Assert.Single(registry.ListActions(rejected));
        Assert.True(action.Forced);
        Assert.Equal("the eval set is stale; checked 50 samples by hand", action.Note);
        Assert.Contains("was rejected by the gate", action.Overrode, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rollback_is_recorded_on_both_versions_and_a_second_one_goes_further_back_never_forward()
    {
        var registry = Open();
        var m100 = Candidate(registry, 100, passed: true, promote: true);
        var m200 = Candidate(registry, 200, passed: true, promote: true);
        var m300 = Candidate(registry, 300, passed: true, promote: true);

        Assert.Equal(m200, registry.Rollback("slowapp", null, "carol", "thumbs-up rate fell"));
        _clock.Advance(TimeSpan.FromMinutes(1));

        var back = Assert.Single(registry.ListActions(m200));
        var from = Assert.Single(registry.ListActions(m300));
        Assert.Equal(("rollback", m300, "thumbs-up rate fell"), (back.Action, back.OtherVersion, back.Note));
        Assert.Equal(("rolled_back", m200, "carol"), (from.Action, from.OtherVersion, from.Actor));

        // m300 is now the most recently retired version, but it was rolled back from: the next rollback skips it.
        Assert.Equal(m100, registry.Rollback("slowapp", null, "carol"));
        Assert.Equal(m100, registry.CurrentModel("slowapp")!.Version);
        Assert.Equal(["rollback", "rolled_back"], registry.ListActions(m200).Select(a => a.Action));
        // Named, it can still be put back.
        Assert.Equal(m300, registry.Rollback("slowapp", m300, "carol"));
    }

    [Fact]
    public void A_run_started_by_a_person_records_its_trigger_and_gets_a_name_of_its_own()
    {
        var registry = Open();
        Assert.True(registry.TryStartRun("slowapp-run-000000500", "slowapp", Snapshot(500)));
        var refusal = Assert.Throws<InvalidOperationException>(() => registry.StartRunByPerson("slowapp", Snapshot(500), RunTrigger.Manual, "by ana"));
        Assert.Contains("already has run 'slowapp-run-000000500' in flight", refusal.Message, StringComparison.Ordinal);
        registry.CompleteRun("slowapp-run-000000500", RunStatus.Failed, "tuning failed: exit 1");

        var manual = registry.StartRunByPerson("slowapp", Snapshot(500), RunTrigger.Manual, "by ana: new labels");

        Assert.Equal(("slowapp-run-000000500-manual2", "slowapp-m500-manual2", RunTrigger.Manual, "by ana: new labels"),
            (manual.RunId, manual.CandidateVersion, manual.Trigger, manual.TriggerNote));
        var pairs = registry.GetRun("slowapp-run-000000500")!;
        Assert.Equal((RunTrigger.Pairs, "slowapp-m500", (string?)null), (pairs.Trigger, pairs.CandidateVersion, pairs.TriggerNote));
    }

    [Fact]
    public void Only_a_failed_run_is_retried_on_its_own_snapshot()
    {
        var registry = Open();
        registry.TryStartRun("slowapp-run-000000500", "slowapp", Snapshot(500));
        Assert.Contains("is still running", Assert.Throws<InvalidOperationException>(() => registry.RetryRun("slowapp-run-000000500", "ana")).Message,
            StringComparison.Ordinal);
        registry.CompleteRun("slowapp-run-000000500", RunStatus.Failed, "evaluation failed: exit 2");

        var retry = registry.RetryRun("slowapp-run-000000500", "ana");

        Assert.Equal(("slowapp-run-000000500-retry2", RunTrigger.Retry, "retry of slowapp-run-000000500 by ana", 500L),
            (retry.RunId, retry.Trigger, retry.TriggerNote, retry.Snapshot.TotalPairs));
        registry.CompleteRun(retry.RunId, RunStatus.Completed, "rejected: below the margin");
        var completed = Assert.Throws<InvalidOperationException>(() => registry.RetryRun(retry.RunId, "ana"));
        Assert.Contains("only a failed run is retried: start a new one with 'feedbackloop runs start --app slowapp'", completed.Message, StringComparison.Ordinal);
        Assert.Contains("is unknown", Assert.Throws<InvalidOperationException>(() => registry.RetryRun("nope", "ana")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_by_hand_needs_pairs_to_train_on()
    {
        var registry = Open();
        var refusal = Assert.Throws<InvalidOperationException>(() =>
            registry.StartRunByPerson("slowapp", new DatasetSnapshot("slowapp", []), RunTrigger.Manual, "by ana"));
        Assert.Contains("no committed preference pairs", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(registry.ListRuns("slowapp"));
    }

    [Fact]
    public void A_file_of_schema_3_keeps_its_rows_and_gains_triggers_names_gate_context_and_actions()
    {
        // Written as the build before this one wrote it: migrations 1-3, a promoted model, a decided candidate, an action.
        using (var connection = _database.ConnectRaw())
        {
            foreach (var statement in StoreSchema.Migrations.Where(m => m.Version <= 3).SelectMany(m => m.Statements))
            {
                using var create = connection.CreateCommand();
                create.CommandText = statement;
                create.ExecuteNonQuery();
            }

            using var rows = connection.CreateCommand();
            rows.CommandText =
                """
                INSERT INTO schema_version (version, applied_at) VALUES (1, '2026-01-01T00:00:00.0000000Z'), (2, '2026-01-01T00:00:00.0000000Z'),
                                                                         (3, '2026-01-01T00:00:00.0000000Z');
                INSERT INTO runs (run_id, app_id, status, snapshot, total_pairs, started_at, completed_at, reason)
                VALUES ('slowapp-run-000000352', 'slowapp', 'completed', '{"files":[],"total_pairs":352}', 352, '2026-01-01T00:00:00.0000000Z',
                        '2026-01-01T00:01:00.0000000Z', 'passed');
                INSERT INTO model_versions (version, app_id, parent_version, run_id, snapshot, artifact_path, train_metrics, status, created_at, status_changed_at)
                VALUES ('slowapp-m200', 'slowapp', NULL, 'slowapp-run-000000352', '[]', 'a', '{}', 'promoted', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z'),
                       ('slowapp-m352', 'slowapp', 'slowapp-m200', 'slowapp-run-000000352', '[]', 'b', '{}', 'candidate', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z');
                INSERT INTO gate_decisions (version, promoted, candidate_accuracy, incumbent_accuracy, difference, lower95, reason, decided_at)
                VALUES ('slowapp-m352', 1, 0.7, 0.6, 0.1, 0.05, 'passed', '2026-01-01T00:01:00.0000000Z');
                INSERT INTO model_actions (action_id, version, action, actor, acted_at, note)
                VALUES ('a1', 'slowapp-m200', 'promote', 'ana', '2026-01-01T00:00:00.0000000Z', 'first');
                """;
            rows.ExecuteNonQuery();
        }

        var registry = Open();

        var run = registry.GetRun("slowapp-run-000000352")!;
        Assert.Equal((RunTrigger.Pairs, "slowapp-m352"), (run.Trigger, run.CandidateVersion));
        Assert.Equal("slowapp-m200", registry.GetDecision("slowapp-m352")!.GatedAgainst);
        Assert.Null(registry.StaleGate("slowapp-m352"));
        var kept = Assert.Single(registry.ListActions("slowapp-m200"));
        Assert.Equal(("promote", "ana", "first", false), (kept.Action, kept.Actor, kept.Note, kept.Forced));
        // The rebuilt actions table takes the new action.
        registry.Approve("slowapp-m352", "ana");
        Assert.Equal("slowapp-m200", registry.Rollback("slowapp", "slowapp-m200", "ana"));
        Assert.Equal(["approve", "rolled_back"], registry.ListActions("slowapp-m352").Select(a => a.Action));
    }
}

public sealed class PromotionSafetyTestsOnSqlite() : PromotionSafetyTests(null);

[Collection(PostgresCollection.Name)]
public sealed class PromotionSafetyTestsOnPostgres(PostgresServer server) : PromotionSafetyTests(server);
