using System.Text.Json;
using FeedbackLoop.Orchestration.Store;
using Dapper;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Pipelines;
using System.Data.Common;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>
/// The durable record of tuning runs and model versions: which run trained what on which data, what the gate
/// decided, and which version each app serves. Every write is keyed by a caller-chosen id and repeats as a
/// no-op, so an at-least-once delivered message can never double a row. Each call opens its own connection,
/// which makes the registry safe to share between concurrent consumers (SQLite serializes the writes).
/// </summary>
public sealed partial class ModelRegistry : IServingState
{
    private readonly StoreDatabase _database;
    private readonly TimeProvider _clock;

    /// <summary>Opens (creating when missing) the registry file, its folder and its tables.</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="clock">The clock of run starts/ends and status changes; the system clock by default.</param>
    /// <exception cref="InvalidDataException">The file was written by a newer build (a higher schema version).</exception>
    public ModelRegistry(string databasePath, TimeProvider? clock = null)
        : this(StoreDatabase.Open(databasePath, clock), clock)
    {
    }

    /// <summary>The registry in an opened store.</summary>
    /// <param name="database">The store.</param>
    /// <param name="clock">The clock of run starts/ends and status changes; the system clock by default.</param>
    public ModelRegistry(StoreDatabase database, TimeProvider? clock = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The store the registry lives in (the job store shares it).</summary>
    public StoreDatabase Database => _database;

    /// <summary>The full path of the registry file.</summary>
    public string DatabasePath => _database.FilePath;

    /// <summary>
    /// Starts run <paramref name="runId"/> on <paramref name="snapshot"/> unless the app already has a run in flight.
    /// </summary>
    /// <returns>
    /// True when the run is in flight: started now, or started by an earlier delivery of this same start and still
    /// running (so the redelivered trigger can safely resend its work). False, inserting nothing, when another run
    /// of the app is running, or this run has already ended.
    /// </returns>
    /// <exception cref="InvalidOperationException"><paramref name="runId"/> already names a run of another app.</exception>
    public bool TryStartRun(string runId, string appId, DatasetSnapshot snapshot)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentOutOfRangeException.ThrowIfNegative(snapshot.TotalPairs);
        if (snapshot.AppId != appId)
        {
            throw new ArgumentException($"the snapshot is of app '{snapshot.AppId}', not '{appId}'", nameof(snapshot));
        }

        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        if (connection.QuerySingleOrDefault<RunRow>($"{RunColumns} WHERE run_id = @run_id", new { run_id = runId }, transaction) is { } existing)
        {
            return existing.AppId == appId
                ? RegistryText.ParseRunStatus(existing.Status) == RunStatus.Running
                : throw new InvalidOperationException($"run id '{runId}' already belongs to app '{existing.AppId}', not '{appId}'");
        }

        // A conflict here can only be the one-running-run-per-app index: the run id was just checked.
        var inserted = connection.Execute(
            """
            INSERT INTO runs (run_id, app_id, status, snapshot, total_pairs, started_at, completed_at, reason, run_trigger, trigger_note, candidate_version)
            VALUES (@run_id, @app_id, @status, @snapshot, @total_pairs, @started_at, NULL, NULL, @run_trigger, NULL, @candidate_version)
            ON CONFLICT DO NOTHING
            """,
            new
            {
                run_id = runId, app_id = appId, status = RegistryText.Status(RunStatus.Running), snapshot = RegistryText.Snapshot(snapshot),
                total_pairs = snapshot.TotalPairs, started_at = StoreText.Timestamp(_clock.GetUtcNow()), run_trigger = RunNames.Text(RunTrigger.Pairs),
                candidate_version = RetrainPolicy.CandidateVersion(appId, snapshot.TotalPairs),
            },
            transaction);
        transaction.Commit();
        return inserted == 1;
    }

    /// <summary>
    /// A person starts a run of <paramref name="appId"/> on <paramref name="snapshot"/>: by hand
    /// (<see cref="RunTrigger.Manual"/>) or as a retry (<see cref="RunTrigger.Retry"/>). Its id and candidate carry the
    /// trigger and a number, since earlier runs may have had the same snapshot size.
    /// </summary>
    /// <param name="appId">The app.</param>
    /// <param name="snapshot">The data the run trains and evaluates on.</param>
    /// <param name="trigger">Manual or retry (a pairs trigger starts through <see cref="TryStartRun"/>, named for its snapshot alone).</param>
    /// <param name="note">Who started it and why (recorded with the run).</param>
    /// <returns>The run, running; a running orchestrator's sweep takes its first step.</returns>
    /// <exception cref="InvalidOperationException">The app has a run in flight (one at a time), or the snapshot holds no pairs.</exception>
    public RunRecord StartRunByPerson(string appId, DatasetSnapshot snapshot, RunTrigger trigger, string note)
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentException.ThrowIfNullOrEmpty(note);
        if (trigger == RunTrigger.Pairs)
        {
            throw new ArgumentOutOfRangeException(nameof(trigger), trigger, "a pairs-triggered run starts through TryStartRun");
        }

        if (snapshot.AppId != appId)
        {
            throw new ArgumentException($"the snapshot is of app '{snapshot.AppId}', not '{appId}'", nameof(snapshot));
        }

        if (snapshot.TotalPairs == 0)
        {
            throw new InvalidOperationException($"app '{appId}' has no committed preference pairs to train on yet (run `extract` first, or check --data)");
        }

        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        if (connection.QuerySingleOrDefault<RunRow>($"{RunColumns} WHERE app_id = @app_id AND status = @running",
                new { app_id = appId, running = RegistryText.Status(RunStatus.Running) }, transaction) is { } running)
        {
            throw new InvalidOperationException(
                $"app '{appId}' already has run '{running.RunId}' in flight (one run per app): wait for it to end " +
                $"('feedbackloop runs show {running.RunId}'), or cancel its job ('feedbackloop jobs list --app {appId}', then 'jobs cancel <job>')");
        }

        var ordinal = connection.ExecuteScalar<int>("SELECT COUNT(*) FROM runs WHERE app_id = @app_id AND total_pairs = @total_pairs",
            new { app_id = appId, total_pairs = snapshot.TotalPairs }, transaction);
        var runId = RunNames.RunId(appId, snapshot.TotalPairs, trigger, ordinal);
        connection.Execute(
            """
            INSERT INTO runs (run_id, app_id, status, snapshot, total_pairs, started_at, completed_at, reason, run_trigger, trigger_note, candidate_version)
            VALUES (@run_id, @app_id, @status, @snapshot, @total_pairs, @started_at, NULL, NULL, @run_trigger, @trigger_note, @candidate_version)
            """,
            new
            {
                run_id = runId, app_id = appId, status = RegistryText.Status(RunStatus.Running), snapshot = RegistryText.Snapshot(snapshot),
                total_pairs = snapshot.TotalPairs, started_at = StoreText.Timestamp(_clock.GetUtcNow()), run_trigger = RunNames.Text(trigger),
                trigger_note = note, candidate_version = RunNames.CandidateVersion(appId, snapshot.TotalPairs, trigger, ordinal),
            },
            transaction);
        transaction.Commit();
        return GetRun(runId)!;
    }

    /// <summary>A person retries failed run <paramref name="runId"/>: a new run on the same snapshot, recorded as its retry.</summary>
    /// <returns>The new run.</returns>
    /// <exception cref="InvalidOperationException">The run is unknown, still running or completed, or its app has a run in flight.</exception>
    public RunRecord RetryRun(string runId, string actor)
    {
        ArgumentException.ThrowIfNullOrEmpty(actor);
        var run = GetRun(runId) ?? throw new InvalidOperationException($"run '{runId}' is unknown ('feedbackloop runs list' names the runs)");
        return run.Status switch
        {
            RunStatus.Failed => StartRunByPerson(run.AppId, run.Snapshot, RunTrigger.Retry, $"retry of {run.RunId} by {actor}"),
            RunStatus.Running => throw new InvalidOperationException($"run '{runId}' is still running; only a failed run is retried"),
            _ => throw new InvalidOperationException(
                $"run '{runId}' completed ({run.Reason}); only a failed run is retried: start a new one with 'feedbackloop runs start --app {run.AppId}'"),
        };
    }

    /// <summary>Starts run <paramref name="runId"/>, or confirms an earlier delivery of this same start started it.</summary>
    /// <exception cref="InvalidOperationException">The app has another run in flight, or this run already ended.</exception>
    public void StartRun(string runId, string appId, DatasetSnapshot snapshot)
    {
        if (!TryStartRun(runId, appId, snapshot))
        {
            throw new InvalidOperationException($"run '{runId}' cannot start: app '{appId}' has another run in flight, or this run already ended");
        }
    }

    /// <summary>Ends a running run with <paramref name="status"/> and <paramref name="reason"/>.</summary>
    /// <returns>True when this call ended it; false when it had already ended (the first ending is kept).</returns>
    /// <exception cref="InvalidOperationException">The run is unknown.</exception>
    public bool CompleteRun(string runId, RunStatus status, string? reason)
    {
        if (status == RunStatus.Running)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "a run ends as completed or failed");
        }

        using var connection = Open();
        var updated = connection.Execute(
            """
            UPDATE runs SET status = @status, completed_at = @completed_at, reason = @reason
            WHERE run_id = @run_id AND status = @running
            """,
            new
            {
                status = RegistryText.Status(status), completed_at = StoreText.Timestamp(_clock.GetUtcNow()), reason, run_id = runId,
                running = RegistryText.Status(RunStatus.Running),
            });
        if (updated == 0 && GetRun(runId) is null)
        {
            throw new InvalidOperationException($"run '{runId}' is unknown");
        }

        return updated == 1;
    }

    /// <summary>The run, or null when unknown.</summary>
    public RunRecord? GetRun(string runId)
    {
        using var connection = Open();
        return connection.QuerySingleOrDefault<RunRow>($"{RunColumns} WHERE run_id = @run_id", new { run_id = runId })?.ToRecord();
    }

    /// <summary>The app's runs, oldest first.</summary>
    public IReadOnlyList<RunRecord> ListRuns(string appId)
    {
        using var connection = Open();
        return [.. connection.Query<RunRow>($"{RunColumns} WHERE app_id = @app_id ORDER BY started_at, run_id", new { app_id = appId })
            .Select(row => row.ToRecord())];
    }

    /// <summary>The runs in flight, of every app, oldest first.</summary>
    public IReadOnlyList<RunRecord> RunningRuns()
    {
        using var connection = Open();
        return [.. connection.Query<RunRow>($"{RunColumns} WHERE status = @running ORDER BY started_at, run_id",
                new { running = RegistryText.Status(RunStatus.Running) })
            .Select(row => row.ToRecord())];
    }

    /// <summary>
    /// The <see cref="DatasetSnapshot.TotalPairs"/> of the app's latest run, whatever its outcome, or 0 before its first.
    /// A failed run counts too: otherwise a broken trainer would be retried on every dataset commit.
    /// </summary>
    public long LastRunPairCount(string appId)
    {
        using var connection = Open();
        return connection.ExecuteScalar<long?>(
            "SELECT total_pairs FROM runs WHERE app_id = @app_id ORDER BY started_at DESC, run_id DESC LIMIT 1",
            new { app_id = appId }) ?? 0;
    }

    /// <summary>Registers a trained candidate; its <see cref="ModelVersionRecord.Status"/> must be <see cref="ModelStatus.Candidate"/>.</summary>
    /// <returns>True when registered now; false when this version was already registered (kept as it was).</returns>
    /// <exception cref="ArgumentException">The status is not candidate, or a JSON field is not JSON.</exception>
    /// <exception cref="InvalidOperationException">The version is already registered for another app or run.</exception>
    public bool RegisterCandidate(ModelVersionRecord candidate)
    {
        ArgumentException.ThrowIfNullOrEmpty(candidate.Version);
        ArgumentException.ThrowIfNullOrEmpty(candidate.AppId);
        if (candidate.Status != ModelStatus.Candidate)
        {
            // Promotion goes through Promote, which keeps one promoted version per app.
            throw new ArgumentException($"a new version registers as a candidate, not as {candidate.Status}", nameof(candidate));
        }

        RequireJson(candidate.SnapshotJson, nameof(ModelVersionRecord.SnapshotJson));
        try
        {
            _ = candidate.TrainMetrics;
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"{nameof(ModelVersionRecord.TrainMetricsJson)}: {e.Message}", nameof(candidate), e);
        }

        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var createdAt = StoreText.Timestamp(candidate.CreatedAt);
        var inserted = connection.Execute(
            """
            INSERT INTO model_versions (version, app_id, parent_version, run_id, snapshot, artifact_path, train_metrics,
                                        status, created_at, status_changed_at)
            VALUES (@version, @app_id, @parent_version, @run_id, @snapshot, @artifact_path, @train_metrics,
                    @status, @created_at, @created_at)
            ON CONFLICT (version) DO NOTHING
            """,
            new
            {
                version = candidate.Version, app_id = candidate.AppId, parent_version = candidate.ParentVersion, run_id = candidate.RunId,
                snapshot = candidate.SnapshotJson, artifact_path = candidate.ArtifactPath, train_metrics = candidate.TrainMetricsJson,
                status = RegistryText.Status(ModelStatus.Candidate), created_at = createdAt,
            },
            transaction);
        if (inserted == 0)
        {
            var existing = ReadModel(connection, transaction, candidate.Version)!;
            if (existing.AppId != candidate.AppId || existing.RunId != candidate.RunId)
            {
                throw new InvalidOperationException(
                    $"version '{candidate.Version}' is already registered for app '{existing.AppId}', run '{existing.RunId}'");
            }
        }

        transaction.Commit();
        return inserted == 1;
    }

    /// <summary>
    /// Records the gate's decision on a candidate. A rejection also marks the version rejected; a pass leaves it a
    /// candidate until <see cref="Promote"/>, which may wait for a person's sign-off.
    /// </summary>
    /// <param name="version">The candidate.</param>
    /// <param name="promoted">Whether it passed.</param>
    /// <param name="candidateAccuracy">Its metric on the eval pairs.</param>
    /// <param name="incumbentAccuracy">The incumbent's, on the same pairs; null without one.</param>
    /// <param name="difference">Candidate minus incumbent.</param>
    /// <param name="lower95">Lower end of the difference's 95 % interval.</param>
    /// <param name="reason">The gate's reason.</param>
    /// <param name="decidedAt">When the gate decided.</param>
    /// <param name="comparedWith">
    /// The model the evaluation scored the candidate against, recorded as what the verdict was gated against; null to
    /// take the app's current model as the decision is recorded (when the evaluation scored none).
    /// </param>
    /// <returns>True when recorded now; false when the version already had a decision (the first is kept).</returns>
    /// <exception cref="InvalidOperationException">The version is unknown.</exception>
    public bool RecordDecision(
        string version, bool promoted, double candidateAccuracy, double? incumbentAccuracy, double difference, double? lower95,
        string reason, DateTimeOffset decidedAt, string? comparedWith = null)
    {
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var model = ReadModel(connection, transaction, version) ?? throw new InvalidOperationException($"model version '{version}' is unknown");
        // The verdict holds while the model it was gated against serves (PromotionRules): the one the evaluation scored,
        // else the one current now.
        var inserted = connection.Execute(
            """
            INSERT INTO gate_decisions (version, promoted, candidate_accuracy, incumbent_accuracy, difference, lower95, reason, decided_at, gated_against)
            VALUES (@version, @promoted, @candidate_accuracy, @incumbent_accuracy, @difference, @lower95, @reason, @decided_at, @gated_against)
            ON CONFLICT (version) DO NOTHING
            """,
            new
            {
                version, promoted = promoted ? 1 : 0, candidate_accuracy = candidateAccuracy, incumbent_accuracy = incumbentAccuracy,
                difference, lower95, reason, decided_at = StoreText.Timestamp(decidedAt),
                gated_against = comparedWith ?? CurrentVersion(connection, transaction, model.AppId),
            },
            transaction);
        if (inserted == 1 && !promoted)
        {
            SetStatus(connection, transaction, version, ModelStatus.Rejected, onlyFrom: ModelStatus.Candidate, StoreText.Timestamp(_clock.GetUtcNow()));
        }

        transaction.Commit();
        return inserted == 1;
    }

    /// <summary>
    /// Makes <paramref name="version"/> its app's current model and retires the one it replaces, in one transaction,
    /// so readers never see an app with two current models or none in between. A retired version may be promoted
    /// again (a rollback); a rejected one may not.
    /// </summary>
    /// <returns>True when promoted now; false when it already was the current model.</returns>
    /// <exception cref="InvalidOperationException">The version is unknown or was rejected.</exception>
    /// <param name="version">The version.</param>
    /// <param name="rollout">
    /// How a promoted candidate is tried on live traffic: with a canary share above 0 and a model to compare with, a
    /// rollout opens (docs/ROLLOUT.md); null (or a share of 0) serves it to everyone at once.
    /// </param>
    public bool Promote(string version, RolloutSettings? rollout = null)
    {
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var model = ReadModel(connection, transaction, version) ?? throw new InvalidOperationException($"model version '{version}' is unknown");
        if (model.Status == ModelStatus.Rejected)
        {
            throw new InvalidOperationException($"model version '{version}' was rejected and cannot be promoted");
        }

        var previous = CurrentVersion(connection, transaction, model.AppId);
        var promoted = PromoteIn(connection, transaction, model);
        if (promoted && model.Status == ModelStatus.Candidate && previous is not null && rollout is { CanaryPercent: > 0 })
        {
            OpenRolloutIn(connection, transaction, model, previous, rollout);
        }

        transaction.Commit();
        return promoted;
    }

    /// <summary>
    /// A person approves a candidate that passed the gate and waits for sign-off (<c>gate.require_signoff</c>): it is
    /// promoted, and the approval is recorded with who gave it. A candidate gated against a model that no longer serves
    /// is refused unless <paramref name="force"/> (with a <paramref name="note"/> saying why): see <see cref="PromotionRules"/>.
    /// </summary>
    /// <returns>The version it replaced, if any.</returns>
    /// <exception cref="InvalidOperationException">The version is unknown, or the promotion rules refuse it (the message says why and what to do).</exception>
    public string? Approve(string version, string actor, string? note = null, bool force = false) =>
        PromoteByPerson(PromotionRequest.Approve, version, actor, note, force);

    /// <summary>
    /// A person makes a version current by hand, and the action is recorded: a candidate that passed the gate against
    /// the current model, an undecided candidate, or a retired version. A rejected candidate, or one gated against a
    /// model that no longer serves, only with <paramref name="force"/> and a <paramref name="note"/> saying why.
    /// </summary>
    /// <returns>The version it replaced, if any.</returns>
    /// <exception cref="InvalidOperationException">The version is unknown, or the promotion rules refuse it (the message says why and what to do).</exception>
    public string? PromoteByHand(string version, string actor, string? note = null, bool force = false) =>
        PromoteByPerson(PromotionRequest.PromoteByHand, version, actor, note, force);

    private string? PromoteByPerson(PromotionRequest request, string version, string actor, string? note, bool force)
    {
        ArgumentException.ThrowIfNullOrEmpty(actor);
        if (force && string.IsNullOrWhiteSpace(note))
        {
            throw new InvalidOperationException("--force needs --reason <why>: the reason is recorded with the action");
        }

        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        var model = ReadModel(connection, transaction, version) ?? throw new InvalidOperationException($"model version '{version}' is unknown");
        var previous = CurrentVersion(connection, transaction, model.AppId);
        var verdict = PromotionRules.Check(request, Facts(connection, transaction, model, previous), force);
        if (!verdict.Allowed)
        {
            throw new InvalidOperationException(verdict.Refusal);
        }

        PromoteIn(connection, transaction, model);
        RecordAction(connection, transaction, new ModelActionRecord(
            version, request == PromotionRequest.Approve ? "approve" : "promote", actor, default, note, verdict.Overridden,
            verdict.Overridden ? verdict.Refusal : null, previous));
        transaction.Commit();
        return previous;
    }

    /// <summary>
    /// Why <paramref name="version"/>'s gate verdict no longer holds (another model became current after the gate
    /// decided), or null while it does or there is none; the run step does not promote on a stale verdict.
    /// </summary>
    public string? StaleGate(string version)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        var model = ReadModel(connection, transaction, version) ?? throw new InvalidOperationException($"model version '{version}' is unknown");
        var facts = Facts(connection, transaction, model, CurrentVersion(connection, transaction, model.AppId));
        return facts.GateIsStale ? PromotionRules.StaleText(facts) : null;
    }

    /// <summary>
    /// Puts back the model the app served before its current one: <paramref name="toVersion"/> when given (it must be a
    /// retired version of the app), else the most recently retired one that was not itself rolled back from since it
    /// last served (so two rollbacks in a row go further back, never forward again). Both versions record it:
    /// <c>rollback</c> on the one put back, <c>rolled_back</c> on the one replaced.
    /// </summary>
    /// <returns>The version now current.</returns>
    /// <exception cref="InvalidOperationException">Nothing to roll back to, or <paramref name="toVersion"/> was never served by the app.</exception>
    public string Rollback(string appId, string? toVersion, string actor, string? note = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(actor);
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        ModelVersionRecord target;
        if (toVersion is not null)
        {
            target = ReadModel(connection, transaction, toVersion) ?? throw new InvalidOperationException($"model version '{toVersion}' is unknown");
            if (target.AppId != appId || target.Status != ModelStatus.Retired)
            {
                throw new InvalidOperationException(
                    $"model version '{toVersion}' is {RegistryText.Status(target.Status)} in app '{target.AppId}'; a rollback goes back to a retired version of app '{appId}'");
            }
        }
        else
        {
            target = connection.QuerySingleOrDefault<ModelRow>(
                    $"""
                    {ModelColumns}
                    WHERE m.app_id = @app_id AND m.status = @retired
                      AND NOT EXISTS (SELECT 1 FROM model_actions a
                                      WHERE a.version = m.version AND a.action = 'rolled_back' AND a.acted_at >= m.status_changed_at)
                    ORDER BY m.status_changed_at DESC, m.version DESC LIMIT 1
                    """,
                    new { app_id = appId, retired = RegistryText.Status(ModelStatus.Retired) }, transaction)?.ToRecord()
                ?? throw new InvalidOperationException(
                    $"app '{appId}' has no retired model to roll back to (versions a rollback replaced are skipped; name one with --to)");
        }

        var previous = CurrentVersion(connection, transaction, appId);
        PromoteIn(connection, transaction, target);
        RecordAction(connection, transaction, new ModelActionRecord(target.Version, "rollback", actor, default, note, OtherVersion: previous));
        if (previous is not null)
        {
            RecordAction(connection, transaction, new ModelActionRecord(previous, "rolled_back", actor, default, note, OtherVersion: target.Version));
        }

        transaction.Commit();
        return target.Version;
    }

    /// <summary>What people did to a version (approvals, manual promotions, rollbacks), oldest first.</summary>
    public IReadOnlyList<ModelActionRecord> ListActions(string version)
    {
        using var connection = Open();
        return [.. connection.Query<ActionRow>(
                """
                SELECT version, action, actor, acted_at, note, forced, overrode, other_version
                FROM model_actions WHERE version = @version ORDER BY acted_at, action_id
                """,
                new { version })
            .Select(row => new ModelActionRecord(
                row.Version, row.Action, row.Actor, StoreText.ParseTimestamp(row.ActedAt), row.Note, row.Forced == 1, row.Overrode, row.OtherVersion))];
    }

    /// <summary>
    /// People's actions that change what an app serves (approve, promote, rollback) and were not announced on the bus yet,
    /// oldest first, at most <paramref name="limit"/>: the orchestrator publishes them, then marks them announced.
    /// </summary>
    public IReadOnlyList<PendingAnnouncement> UnannouncedActions(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = Open();
        return [.. connection.Query<PendingAnnouncement>(
            """
            SELECT a.action_id AS ActionId, m.app_id AS AppId, a.version AS Version, a.action AS Action, a.other_version AS OtherVersion,
                   m.artifact_path AS ArtifactPath, a.actor AS Actor, a.note AS Note
            FROM model_actions a JOIN model_versions m ON m.version = a.version
            WHERE a.announced_at IS NULL
            ORDER BY a.acted_at, a.action_id
            LIMIT @limit
            """,
            new { limit })];
    }

    /// <summary>Marks an action announced; the first mark is kept.</summary>
    public void MarkAnnounced(string actionId)
    {
        using var connection = Open();
        // A write transaction like every other, so an orchestrator that lost its lease cannot write here either.
        using var transaction = _database.BeginWrite(connection);
        connection.Execute("UPDATE model_actions SET announced_at = @now WHERE action_id = @actionId AND announced_at IS NULL",
            new { now = StoreText.Timestamp(_clock.GetUtcNow()), actionId }, transaction);
        transaction.Commit();
    }

    /// <summary>The gate's decision on <paramref name="version"/>, or null until it decided.</summary>
    public GateDecisionRecord? GetDecision(string version)
    {
        using var connection = Open();
        return ReadDecision(connection, null, version);
    }

    /// <summary>Records the W3C trace context that run <paramref name="runId"/>'s later steps continue; the first one recorded is kept.</summary>
    public void RecordTraceParent(string runId, string traceParent)
    {
        ArgumentException.ThrowIfNullOrEmpty(traceParent);
        using var connection = Open();
        using var transaction = _database.BeginWrite(connection);
        connection.Execute("INSERT INTO run_traces (run_id, trace_parent) VALUES (@runId, @traceParent) ON CONFLICT (run_id) DO NOTHING",
            new { runId, traceParent }, transaction);
        transaction.Commit();
    }

    /// <summary>The W3C trace context of run <paramref name="runId"/>, or null when it was started outside a trace.</summary>
    public string? TraceParentOf(string runId)
    {
        using var connection = Open();
        return connection.QuerySingleOrDefault<string>("SELECT trace_parent FROM run_traces WHERE run_id = @runId", new { runId });
    }

    /// <summary>The app ids that have at least one run or model, in order.</summary>
    public IReadOnlyList<string> ListApps()
    {
        using var connection = Open();
        return [.. connection.Query<string>("SELECT app_id FROM runs UNION SELECT app_id FROM model_versions ORDER BY 1")];
    }

    /// <summary>The model version, or null when unknown.</summary>
    public ModelVersionRecord? GetModel(string version)
    {
        using var connection = Open();
        return ReadModel(connection, null, version);
    }

    /// <summary>The app's promoted model, or null when it has none yet.</summary>
    public ModelVersionRecord? CurrentModel(string appId)
    {
        using var connection = Open();
        return connection.QuerySingleOrDefault<ModelRow>($"{ModelColumns} WHERE app_id = @app_id AND status = @promoted",
            new { app_id = appId, promoted = RegistryText.Status(ModelStatus.Promoted) })?.ToRecord();
    }

    /// <summary>Every version of the app, oldest first, each with its gate decision (null until decided).</summary>
    public IReadOnlyList<ModelHistoryEntry> ListModels(string appId)
    {
        using var connection = Open();
        var rows = connection.Query<ModelHistoryRow>(
            $"""
            SELECT {ModelColumnList}, m.status_changed_at,
                   d.promoted, d.candidate_accuracy, d.incumbent_accuracy, d.difference, d.lower95, d.reason AS decision_reason, d.decided_at,
                   d.gated_against
            FROM model_versions m LEFT JOIN gate_decisions d ON d.version = m.version
            WHERE m.app_id = @app_id
            ORDER BY m.created_at, m.version
            """,
            new { app_id = appId });
        return [.. rows.Select(row => row.ToEntry())];
    }

    private const string RunColumns =
        "SELECT run_id, app_id, status, snapshot, started_at, completed_at, reason, run_trigger, trigger_note, candidate_version FROM runs";

    private const string ModelColumnList =
        "m.version, m.app_id, m.parent_version, m.run_id, m.snapshot, m.artifact_path, m.train_metrics, m.status, m.created_at";

    private const string ModelColumns = $"SELECT {ModelColumnList} FROM model_versions m";

    private DbConnection Open() => _database.Connect();

    private bool PromoteIn(DbConnection connection, DbTransaction transaction, ModelVersionRecord model)
    {
        switch (model.Status)
        {
            case ModelStatus.Promoted:
                return false;
        }

        var now = StoreText.Timestamp(_clock.GetUtcNow());
        EndOpenRolloutIn(connection, transaction, model, now);

        // Retire first: the one-promoted-per-app index would refuse the promotion while the old one is still current.
        connection.Execute(
            "UPDATE model_versions SET status = @retired, status_changed_at = @now WHERE app_id = @app_id AND status = @promoted",
            new { retired = RegistryText.Status(ModelStatus.Retired), now, app_id = model.AppId, promoted = RegistryText.Status(ModelStatus.Promoted) },
            transaction);
        SetStatus(connection, transaction, model.Version, ModelStatus.Promoted, onlyFrom: model.Status, now);
        return true;
    }

    /// <summary>Records <paramref name="action"/> (its time is the registry clock's, whatever the record says).</summary>
    private void RecordAction(DbConnection connection, DbTransaction transaction, ModelActionRecord action) =>
        connection.Execute(
            """
            INSERT INTO model_actions (action_id, version, action, actor, acted_at, note, forced, overrode, other_version, announced_at)
            VALUES (@id, @version, @action, @actor, @at, @note, @forced, @overrode, @other_version, @announced_at)
            """,
            new
            {
                id = Guid.CreateVersion7().ToString(), version = action.Version, action = action.Action, actor = action.Actor,
                at = StoreText.Timestamp(_clock.GetUtcNow()), note = action.Note, forced = action.Forced ? 1 : 0, overrode = action.Overrode,
                other_version = action.OtherVersion,
                // A rollback is announced once, from its 'rollback' row; the 'rolled_back' row has nothing to add.
                announced_at = action.Action == "rolled_back" ? StoreText.Timestamp(_clock.GetUtcNow()) : null,
            },
            transaction);

    /// <summary>What the promotion rules decide on for <paramref name="model"/>.</summary>
    private static PromotionFacts Facts(DbConnection connection, DbTransaction transaction, ModelVersionRecord model, string? currentNow)
    {
        var decision = ReadDecision(connection, transaction, model.Version);
        var state = model.Status switch
        {
            ModelStatus.Candidate => VersionState.Candidate,
            ModelStatus.Promoted => VersionState.Current,
            ModelStatus.Rejected => VersionState.Rejected,
            _ => VersionState.Retired,
        };
        return new PromotionFacts(model.Version, state, decision?.Promoted, decision?.Reason, decision?.GatedAgainst, currentNow);
    }

    private static string? CurrentVersion(DbConnection connection, DbTransaction transaction, string appId) =>
        connection.ExecuteScalar<string?>("SELECT version FROM model_versions WHERE app_id = @app_id AND status = @promoted",
            new { app_id = appId, promoted = RegistryText.Status(ModelStatus.Promoted) }, transaction);

    private static GateDecisionRecord? ReadDecision(DbConnection connection, DbTransaction? transaction, string version) =>
        connection.QuerySingleOrDefault<DecisionRow>(
            """
            SELECT version, promoted, candidate_accuracy, incumbent_accuracy, difference, lower95, reason AS decision_reason, decided_at, gated_against
            FROM gate_decisions WHERE version = @version
            """,
            new { version }, transaction)?.ToRecord();

    private static void SetStatus(DbConnection connection, DbTransaction transaction, string version, ModelStatus status, ModelStatus onlyFrom, string now) =>
        connection.Execute(
            "UPDATE model_versions SET status = @status, status_changed_at = @now WHERE version = @version AND status = @from",
            new { status = RegistryText.Status(status), now, version, from = RegistryText.Status(onlyFrom) }, transaction);

    private static ModelVersionRecord? ReadModel(DbConnection connection, DbTransaction? transaction, string version) =>
        connection.QuerySingleOrDefault<ModelRow>($"{ModelColumns} WHERE m.version = @version", new { version }, transaction)?.ToRecord();

    private static void RequireJson(string json, string field)
    {
        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{field} is not JSON: {e.Message}", field, e);
        }
    }

    // The rows as the tables hold them, filled by column name (run_id fills RunId); text columns stay text here and are
    // parsed in one place each (StoreText, RegistryText).
    private sealed class RunRow
    {
        public string RunId { get; init; } = "";
        public string AppId { get; init; } = "";
        public string Status { get; init; } = "";
        public string Snapshot { get; init; } = "";
        public string StartedAt { get; init; } = "";
        public string? CompletedAt { get; init; }
        public string? Reason { get; init; }
        public string RunTrigger { get; init; } = "";
        public string? TriggerNote { get; init; }
        public string CandidateVersion { get; init; } = "";

        public RunRecord ToRecord() => new(
            RunId, AppId, RegistryText.ParseRunStatus(Status), RegistryText.ParseSnapshot(AppId, Snapshot), StoreText.ParseTimestamp(StartedAt),
            CompletedAt is null ? null : StoreText.ParseTimestamp(CompletedAt), Reason, RunNames.ParseTrigger(RunTrigger), TriggerNote, CandidateVersion);
    }

    private class ModelRow
    {
        public string Version { get; init; } = "";
        public string AppId { get; init; } = "";
        public string? ParentVersion { get; init; }
        public string RunId { get; init; } = "";
        public string Snapshot { get; init; } = "";
        public string ArtifactPath { get; init; } = "";
        public string TrainMetrics { get; init; } = "";
        public string Status { get; init; } = "";
        public string CreatedAt { get; init; } = "";

        public ModelVersionRecord ToRecord() => new(
            Version, AppId, ParentVersion, RunId, Snapshot, ArtifactPath, TrainMetrics, RegistryText.ParseModelStatus(Status),
            StoreText.ParseTimestamp(CreatedAt));
    }

    private sealed class ModelHistoryRow : ModelRow
    {
        public string StatusChangedAt { get; init; } = "";
        public long? Promoted { get; init; }
        public double? CandidateAccuracy { get; init; }
        public double? IncumbentAccuracy { get; init; }
        public double? Difference { get; init; }
        public double? Lower95 { get; init; }
        public string? DecisionReason { get; init; }
        public string? DecidedAt { get; init; }
        public string? GatedAgainst { get; init; }

        public ModelHistoryEntry ToEntry()
        {
            var decision = Promoted is null ? null : new DecisionRow
            {
                Version = Version, Promoted = Promoted.Value, CandidateAccuracy = CandidateAccuracy ?? 0, IncumbentAccuracy = IncumbentAccuracy,
                Difference = Difference ?? 0, Lower95 = Lower95, DecisionReason = DecisionReason ?? "", DecidedAt = DecidedAt ?? "",
                GatedAgainst = GatedAgainst,
            };
            return new ModelHistoryEntry(ToRecord(), decision?.ToRecord(), StoreText.ParseTimestamp(StatusChangedAt));
        }
    }

    private sealed class DecisionRow
    {
        public string Version { get; init; } = "";
        public long Promoted { get; init; }
        public double CandidateAccuracy { get; init; }
        public double? IncumbentAccuracy { get; init; }
        public double Difference { get; init; }
        public double? Lower95 { get; init; }
        public string DecisionReason { get; init; } = "";
        public string DecidedAt { get; init; } = "";
        public string? GatedAgainst { get; init; }

        public GateDecisionRecord ToRecord() => new(
            Version, Promoted == 1, CandidateAccuracy, IncumbentAccuracy, Difference, Lower95, DecisionReason, StoreText.ParseTimestamp(DecidedAt),
            GatedAgainst);
    }

    private sealed class ActionRow
    {
        public string Version { get; init; } = "";
        public string Action { get; init; } = "";
        public string Actor { get; init; } = "";
        public string ActedAt { get; init; } = "";
        public string? Note { get; init; }
        public long Forced { get; init; }
        public string? Overrode { get; init; }
        public string? OtherVersion { get; init; }
    }
}
