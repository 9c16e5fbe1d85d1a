using Dapper;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Pipelines;
using System.Data.Common;

namespace FeedbackLoop.Orchestration.Registry;

// Canary rollouts (docs/ROLLOUT.md). A rollout opens in the transaction that promotes a candidate: the candidate is the
// app's current model from then on (so gates, runs and rollbacks see it as the model that serves), and while the
// rollout is open the resolver still gives the stable model to every session outside the canary's share. Its end is
// recorded as a model action (promote on the canary, or rollback and rolled_back on both versions), so the store-as-
// outbox path of ADR 0020 announces it as ModelPromoted or ModelRolledBack.
public sealed partial class ModelRegistry
{
    /// <summary>The app's open (active or halted) rollout, or null.</summary>
    public RolloutRecord? OpenRollout(string appId)
    {
        using var connection = Open();
        return ReadOpenRollout(connection, null, appId);
    }

    /// <summary>The active rollouts of every app, oldest first: the monitor looks at each.</summary>
    public IReadOnlyList<RolloutRecord> ActiveRollouts()
    {
        using var connection = Open();
        return [.. connection.Query<RolloutRow>($"{RolloutColumns} WHERE state = 'active' ORDER BY started_at, rollout_id").Select(r => r.ToRecord())];
    }

    /// <summary>The rollouts of <paramref name="appId"/> (of every app when null), newest first.</summary>
    public IReadOnlyList<RolloutRecord> ListRollouts(string? appId)
    {
        using var connection = Open();
        return [.. connection.Query<RolloutRow>(
                $"{RolloutColumns} WHERE (@app_id IS NULL OR app_id = @app_id) ORDER BY started_at DESC, rollout_id DESC", new { app_id = appId })
            .Select(r => r.ToRecord())];
    }

    /// <summary>The rollout, or null when unknown.</summary>
    public RolloutRecord? GetRollout(string rolloutId)
    {
        using var connection = Open();
        return ReadRollout(connection, null, rolloutId);
    }

    /// <summary>Every decision taken on the rollout, oldest first.</summary>
    public IReadOnlyList<RolloutDecisionRecord> RolloutDecisions(string rolloutId)
    {
        using var connection = Open();
        return [.. connection.Query<DecisionOnRolloutRow>(
                """
                SELECT rollout_id, decision, actor, by_person, reason, stable_shown, stable_engaged, canary_shown, canary_engaged,
                       lower_bound, upper_bound, decided_at
                FROM rollout_decisions WHERE rollout_id = @rolloutId ORDER BY decided_at, decision_id
                """,
                new { rolloutId })
            .Select(r => r.ToRecord())];
    }

    /// <summary>
    /// What the app serves now, as the resolver reads it: its stable model and its open rollout's canary and share (0
    /// while halted). During a rollout the stable model is the one the canary replaced, retired in the store.
    /// </summary>
    public AppServing Serving(string appId)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        var current = connection.QuerySingleOrDefault<ModelRow>($"{ModelColumns} WHERE app_id = @app_id AND status = 'promoted'",
            new { app_id = appId }, transaction)?.ToRecord();
        if (current is null)
        {
            return new AppServing(appId, null, null);
        }

        if (ReadOpenRollout(connection, transaction, appId) is not { } rollout || rollout.Version != current.Version
            || ReadModel(connection, transaction, rollout.StableVersion) is not { } stable)
        {
            return new AppServing(appId, new ServedModel(current.Version, current.ArtifactPath), null);
        }

        var percent = rollout.State == RolloutState.Active ? rollout.CanaryPercent : 0;
        return new AppServing(appId, new ServedModel(stable.Version, stable.ArtifactPath),
            new CanarySplit(rollout.RolloutId, new ServedModel(current.Version, current.ArtifactPath), percent));
    }

    /// <summary>
    /// Records the monitor's decision at one look: an extension is stored with its numbers; a promotion or rollback
    /// ends the rollout and is recorded as a model action, announced from the store. Only an active rollout is decided on.
    /// </summary>
    /// <returns>True when the decision was recorded; false when the rollout is no longer active (a person halted or ended it meanwhile).</returns>
    /// <exception cref="InvalidOperationException">The rollout is unknown.</exception>
    public bool RecordRolloutDecision(string rolloutId, RolloutDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var rollout = ReadRollout(connection, transaction, rolloutId) ?? throw new InvalidOperationException($"rollout '{rolloutId}' is unknown");
        if (rollout.State != RolloutState.Active)
        {
            return false;
        }

        var word = decision.Step switch { RolloutStep.Promote => "promote", RolloutStep.RollBack => "rollback", _ => "extend" };
        InsertRolloutDecision(connection, transaction, rolloutId, word, RolloutText.Monitor, byPerson: false, decision.Reason, decision.Test);
        if (decision.Step != RolloutStep.Extend)
        {
            EndRolloutIn(connection, transaction, rollout, decision.Step == RolloutStep.Promote, RolloutText.Monitor, decision.Reason);
        }

        transaction.Commit();
        return true;
    }

    /// <summary>
    /// A person stops an active rollout: every session gets the stable model again, and nothing is decided until a
    /// person promotes or rolls it back. Recorded with who and why.
    /// </summary>
    /// <exception cref="InvalidOperationException">The rollout is unknown or not active.</exception>
    public RolloutRecord HaltRollout(string rolloutId, string actor, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(actor);
        RequireReason(reason);
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var rollout = ReadRollout(connection, transaction, rolloutId) ?? throw UnknownRollout(rolloutId);
        if (rollout.State != RolloutState.Active)
        {
            throw new InvalidOperationException($"rollout '{rolloutId}' is {rollout.StateText}; only an active rollout can be halted");
        }

        connection.Execute("UPDATE rollouts SET state = 'halted' WHERE rollout_id = @rolloutId", new { rolloutId }, transaction);
        InsertRolloutDecision(connection, transaction, rolloutId, "halt", actor, byPerson: true, reason, test: null);
        transaction.Commit();
        return GetRollout(rolloutId)!;
    }

    /// <summary>
    /// A person ends an open (active or halted) rollout either way, whatever the test says: <paramref name="promote"/>
    /// serves the canary to everyone, otherwise the stable model is put back. Recorded with who and why, and announced.
    /// </summary>
    /// <exception cref="InvalidOperationException">The rollout is unknown or has ended.</exception>
    public RolloutRecord EndRolloutByPerson(string rolloutId, bool promote, string actor, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(actor);
        RequireReason(reason);
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var rollout = ReadRollout(connection, transaction, rolloutId) ?? throw UnknownRollout(rolloutId);
        if (!rollout.IsOpen)
        {
            throw new InvalidOperationException($"rollout '{rolloutId}' already ended ({rollout.StateText}: {rollout.Reason})");
        }

        InsertRolloutDecision(connection, transaction, rolloutId, promote ? "promote" : "rollback", actor, byPerson: true, reason, test: null);
        EndRolloutIn(connection, transaction, rollout, promote, actor, reason);
        transaction.Commit();
        return GetRollout(rolloutId)!;
    }

    private const string RolloutColumns =
        "SELECT rollout_id, app_id, version, stable_version, canary_percent, max_duration_seconds, state, started_at, ended_at, reason FROM rollouts";

    private static void RequireReason(string reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new InvalidOperationException("--reason <why> is required: it is recorded with the decision");
        }
    }

    private static InvalidOperationException UnknownRollout(string rolloutId) =>
        new($"rollout '{rolloutId}' is unknown ('feedbackloop models rollouts' lists them)");

    private void OpenRolloutIn(DbConnection connection, DbTransaction transaction, ModelVersionRecord canary, string stableVersion, RolloutSettings settings) =>
        connection.Execute(
            """
            INSERT INTO rollouts (rollout_id, app_id, version, stable_version, canary_percent, max_duration_seconds, state, started_at, ended_at, reason)
            VALUES (@rollout_id, @app_id, @version, @stable_version, @canary_percent, @max_duration_seconds, 'active', @started_at, NULL, NULL)
            ON CONFLICT (rollout_id) DO NOTHING
            """,
            new
            {
                rollout_id = $"{canary.Version}-canary", app_id = canary.AppId, version = canary.Version, stable_version = stableVersion,
                canary_percent = settings.CanaryPercent, max_duration_seconds = settings.MaxDuration.TotalSeconds,
                started_at = StoreText.Timestamp(_clock.GetUtcNow()),
            },
            transaction);

    /// <summary>
    /// Another model becomes current while a rollout is open (a promotion by hand, a rollback by hand, a newer run's
    /// candidate): the rollout ends, as rolled back when its stable model is the one coming back, else as superseded.
    /// </summary>
    private static void EndOpenRolloutIn(DbConnection connection, DbTransaction transaction, ModelVersionRecord incoming, string now)
    {
        if (ReadOpenRollout(connection, transaction, incoming.AppId) is not { } open || open.Version == incoming.Version)
        {
            return;
        }

        var rolledBack = open.StableVersion == incoming.Version;
        connection.Execute("UPDATE rollouts SET state = @state, ended_at = @now, reason = @reason WHERE rollout_id = @id",
            new
            {
                state = rolledBack ? "rolled_back" : "superseded", now, id = open.RolloutId,
                reason = $"{incoming.Version} became the current model by another action",
            },
            transaction);
    }

    private void EndRolloutIn(DbConnection connection, DbTransaction transaction, RolloutRecord rollout, bool promote, string actor, string reason)
    {
        var now = StoreText.Timestamp(_clock.GetUtcNow());
        connection.Execute("UPDATE rollouts SET state = @state, ended_at = @now, reason = @reason WHERE rollout_id = @id",
            new { state = promote ? "promoted" : "rolled_back", now, reason, id = rollout.RolloutId }, transaction);
        if (promote)
        {
            // The canary is already current; the action is what tells apps (ModelPromoted) that it now serves everyone.
            RecordAction(connection, transaction, new ModelActionRecord(rollout.Version, "promote", actor, default, reason, OtherVersion: rollout.StableVersion));
            return;
        }

        var stable = ReadModel(connection, transaction, rollout.StableVersion)
            ?? throw new InvalidOperationException($"rollout '{rollout.RolloutId}': its stable model '{rollout.StableVersion}' is unknown");
        PromoteIn(connection, transaction, stable);
        RecordAction(connection, transaction, new ModelActionRecord(stable.Version, "rollback", actor, default, reason, OtherVersion: rollout.Version));
        RecordAction(connection, transaction, new ModelActionRecord(rollout.Version, "rolled_back", actor, default, reason, OtherVersion: stable.Version));
    }

    private void InsertRolloutDecision(
        DbConnection connection, DbTransaction transaction, string rolloutId, string decision, string actor, bool byPerson, string reason, CanaryDecision? test) =>
        connection.Execute(
            """
            INSERT INTO rollout_decisions (decision_id, rollout_id, decision, actor, by_person, reason, stable_shown, stable_engaged, canary_shown,
                                           canary_engaged, lower_bound, upper_bound, decided_at)
            VALUES (@decision_id, @rollout_id, @decision, @actor, @by_person, @reason, @stable_shown, @stable_engaged, @canary_shown,
                    @canary_engaged, @lower_bound, @upper_bound, @decided_at)
            """,
            new
            {
                decision_id = Guid.CreateVersion7().ToString(), rollout_id = rolloutId, decision, actor, by_person = byPerson ? 1 : 0, reason,
                stable_shown = test?.Stable.Shown, stable_engaged = test?.Stable.Engaged, canary_shown = test?.Canary.Shown,
                canary_engaged = test?.Canary.Engaged, lower_bound = test?.Interval?.Lower, upper_bound = test?.Interval?.Upper,
                decided_at = StoreText.Timestamp(_clock.GetUtcNow()),
            },
            transaction);

    private static RolloutRecord? ReadRollout(DbConnection connection, DbTransaction? transaction, string rolloutId) =>
        connection.QuerySingleOrDefault<RolloutRow>($"{RolloutColumns} WHERE rollout_id = @rolloutId", new { rolloutId }, transaction)?.ToRecord();

    private static RolloutRecord? ReadOpenRollout(DbConnection connection, DbTransaction? transaction, string appId) =>
        connection.QuerySingleOrDefault<RolloutRow>($"{RolloutColumns} WHERE app_id = @appId AND state IN ('active', 'halted')", new { appId }, transaction)
            ?.ToRecord();

    private sealed class RolloutRow
    {
        public string RolloutId { get; init; } = "";
        public string AppId { get; init; } = "";
        public string Version { get; init; } = "";
        public string StableVersion { get; init; } = "";
        public long CanaryPercent { get; init; }
        public double MaxDurationSeconds { get; init; }
        public string State { get; init; } = "";
        public string StartedAt { get; init; } = "";
        public string? EndedAt { get; init; }
        public string? Reason { get; init; }

        public RolloutRecord ToRecord() => new(
            RolloutId, AppId, Version, StableVersion, (int)CanaryPercent, TimeSpan.FromSeconds(MaxDurationSeconds), RolloutText.ParseState(State),
            StoreText.ParseTimestamp(StartedAt), EndedAt is null ? null : StoreText.ParseTimestamp(EndedAt), Reason);
    }

    private sealed class DecisionOnRolloutRow
    {
        public string RolloutId { get; init; } = "";
        public string Decision { get; init; } = "";
        public string Actor { get; init; } = "";
        public long ByPerson { get; init; }
        public string Reason { get; init; } = "";
        public long? StableShown { get; init; }
        public long? StableEngaged { get; init; }
        public long? CanaryShown { get; init; }
        public long? CanaryEngaged { get; init; }
        public double? LowerBound { get; init; }
        public double? UpperBound { get; init; }
        public string DecidedAt { get; init; } = "";

        public RolloutDecisionRecord ToRecord() => new(
            RolloutId, Decision, Actor, ByPerson == 1, Reason,
            StableShown is { } ss ? new ArmCounts(ss, StableEngaged ?? 0) : null,
            CanaryShown is { } cs ? new ArmCounts(cs, CanaryEngaged ?? 0) : null,
            LowerBound is { } lo && UpperBound is { } hi ? (lo, hi) : null,
            StoreText.ParseTimestamp(DecidedAt));
    }
}
