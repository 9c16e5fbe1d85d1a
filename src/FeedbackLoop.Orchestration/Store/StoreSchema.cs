namespace FeedbackLoop.Orchestration.Store;

/// <summary>
/// The store's tables, the registry's and the jobs', in one numbered list of migrations. The DDL is kept to what SQLite and PostgreSQL both run unchanged: standard types
/// (TEXT, INTEGER, BIGINT, DOUBLE PRECISION, which SQLite maps to its INTEGER and REAL affinities; PostgreSQL's
/// REAL would be single precision and INTEGER 32 bits), ISO-8601 UTC text timestamps that sort as text, JSON as
/// TEXT, and partial unique indexes, which both engines enforce. Those indexes are what keep "one run in flight
/// per app" and "one promoted model per app" true even with several writers, not a check in our code.
/// Changes come as numbered migrations, each applied once in its own transaction and recorded in schema_version,
/// so a file written by an older build is brought up to date when it is opened.
/// </summary>
internal static class StoreSchema
{
    /// <summary>The version this build writes; a file with a higher one came from a newer build and is refused.</summary>
    public const int Version = 8;

    /// <summary>The migrations in order: version, statements. (A property, not a field: the arrays below must exist first.)</summary>
    public static IReadOnlyList<(int Version, string[] Statements)> Migrations =>
    [
        (1, Runs),
        (2, Jobs),
        (3, RunTraces),
        (4, Promotions),
        (5, Rollouts),
        (6, ReviewWaits),
        (7, InterruptedAttempts),
        (8, Leadership),
    ];

    // The registry as issue 3 left it. IF NOT EXISTS: files of that build have these tables without a migration record.
    private static readonly string[] Runs =
    [
        """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER NOT NULL PRIMARY KEY,
            applied_at TEXT    NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS runs (
            run_id       TEXT   NOT NULL PRIMARY KEY,
            app_id       TEXT   NOT NULL,
            status       TEXT   NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
            snapshot     TEXT   NOT NULL,
            total_pairs  BIGINT NOT NULL,
            started_at   TEXT   NOT NULL,
            completed_at TEXT,
            reason       TEXT
        )
        """,
        "CREATE INDEX IF NOT EXISTS runs_by_app ON runs (app_id, started_at)",
        "CREATE UNIQUE INDEX IF NOT EXISTS runs_one_running_per_app ON runs (app_id) WHERE status = 'running'",
        """
        CREATE TABLE IF NOT EXISTS model_versions (
            version           TEXT NOT NULL PRIMARY KEY,
            app_id            TEXT NOT NULL,
            parent_version    TEXT,
            run_id            TEXT NOT NULL,
            snapshot          TEXT NOT NULL,
            artifact_path     TEXT NOT NULL,
            train_metrics     TEXT NOT NULL,
            status            TEXT NOT NULL CHECK (status IN ('candidate', 'promoted', 'rejected', 'retired')),
            created_at        TEXT NOT NULL,
            status_changed_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS model_versions_by_app ON model_versions (app_id, created_at)",
        "CREATE UNIQUE INDEX IF NOT EXISTS model_versions_one_promoted_per_app ON model_versions (app_id) WHERE status = 'promoted'",
        """
        CREATE TABLE IF NOT EXISTS gate_decisions (
            version            TEXT             NOT NULL PRIMARY KEY REFERENCES model_versions (version),
            promoted           INTEGER          NOT NULL CHECK (promoted IN (0, 1)),
            candidate_accuracy DOUBLE PRECISION NOT NULL,
            incumbent_accuracy DOUBLE PRECISION,
            difference         DOUBLE PRECISION NOT NULL,
            lower95            DOUBLE PRECISION,
            reason             TEXT             NOT NULL,
            decided_at         TEXT             NOT NULL
        )
        """,
    ];

    // Durable jobs and attempts (what runs where, how often it was tried and why each attempt ended), and the
    // people's actions on models (approvals, manual promotions and rollbacks), for the audit trail.
    private static readonly string[] Jobs =
    [
        """
        CREATE TABLE jobs (
            job_id                    TEXT             NOT NULL PRIMARY KEY,
            run_id                    TEXT             NOT NULL REFERENCES runs (run_id),
            app_id                    TEXT             NOT NULL,
            kind                      TEXT             NOT NULL CHECK (kind IN ('tune', 'eval')),
            spec                      TEXT             NOT NULL,
            state                     TEXT             NOT NULL CHECK (state IN ('pending', 'offered', 'running', 'succeeded', 'failed', 'cancelled')),
            attempt                   INTEGER          NOT NULL,
            max_attempts              INTEGER          NOT NULL,
            retry_backoff_seconds     DOUBLE PRECISION NOT NULL,
            heartbeat_timeout_seconds DOUBLE PRECISION NOT NULL,
            due_at                    TEXT,
            cancel_requested_at       TEXT,
            cancel_reason             TEXT,
            result                    TEXT,
            reason                    TEXT,
            created_at                TEXT             NOT NULL,
            updated_at                TEXT             NOT NULL
        )
        """,
        "CREATE INDEX jobs_by_state ON jobs (state, due_at)",
        "CREATE INDEX jobs_by_run ON jobs (run_id)",
        """
        CREATE TABLE attempts (
            job_id       TEXT    NOT NULL REFERENCES jobs (job_id),
            attempt      INTEGER NOT NULL,
            state        TEXT    NOT NULL CHECK (state IN ('offered', 'running', 'succeeded', 'failed', 'timed_out', 'lost', 'cancelled')),
            worker_id    TEXT,
            slot         INTEGER,
            offered_at   TEXT    NOT NULL,
            started_at   TEXT,
            heartbeat_at TEXT,
            ended_at     TEXT,
            progress     TEXT,
            reason       TEXT,
            exit_code    INTEGER,
            log_path     TEXT,
            output_path  TEXT,
            metrics      TEXT,
            PRIMARY KEY (job_id, attempt)
        )
        """,
        """
        CREATE TABLE model_actions (
            action_id TEXT NOT NULL PRIMARY KEY,
            version   TEXT NOT NULL REFERENCES model_versions (version),
            action    TEXT NOT NULL CHECK (action IN ('approve', 'promote', 'rollback')),
            actor     TEXT NOT NULL,
            acted_at  TEXT NOT NULL,
            note      TEXT
        )
        """,
        "CREATE INDEX model_actions_by_version ON model_actions (version, acted_at)",
    ];

    // Where each run's trace goes on: the W3C trace context of the span that started it, so every later step of the
    // run (a sweep after a restart too) continues the trace that began with the app's feedback (docs/OBSERVABILITY.md).
    // A table of its own rather than a column of runs: a run without a trace is simply absent here.
    private static readonly string[] RunTraces =
    [
        """
        CREATE TABLE run_traces (
            run_id       TEXT NOT NULL PRIMARY KEY REFERENCES runs (run_id),
            trace_parent TEXT NOT NULL
        )
        """,
    ];

    // What triggered each run and the candidate it registers (a run started by a person may share its snapshot size
    // with an earlier run, so the version can no longer be derived from the size alone; older rows get the name they
    // were given). The model that was current when the gate decided, so an approval can tell a stale verdict (older
    // rows: the model current when their run started, the best the file knows). Actions gain the forced override and
    // what it overrode, the other version of a rollback, 'rolled_back' on the version a rollback replaced, and when the
    // orchestrator announced the action on the bus (the store is the outbox): a CHECK cannot be altered in SQLite, so the
    // table is rebuilt.
    private static readonly string[] Promotions =
    [
        "ALTER TABLE runs ADD COLUMN run_trigger TEXT NOT NULL DEFAULT 'pairs'",
        "ALTER TABLE runs ADD COLUMN trigger_note TEXT",
        "ALTER TABLE runs ADD COLUMN candidate_version TEXT",
        "UPDATE runs SET candidate_version = app_id || '-m' || CAST(total_pairs AS TEXT) WHERE candidate_version IS NULL",
        "ALTER TABLE gate_decisions ADD COLUMN gated_against TEXT",
        """
        UPDATE gate_decisions SET gated_against = (SELECT m.parent_version FROM model_versions m WHERE m.version = gate_decisions.version)
        """,
        """
        CREATE TABLE model_actions_v4 (
            action_id     TEXT    NOT NULL PRIMARY KEY,
            version       TEXT    NOT NULL REFERENCES model_versions (version),
            action        TEXT    NOT NULL CHECK (action IN ('approve', 'promote', 'rollback', 'rolled_back')),
            actor         TEXT    NOT NULL,
            acted_at      TEXT    NOT NULL,
            note          TEXT,
            forced        INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),
            overrode      TEXT,
            other_version TEXT,
            announced_at  TEXT
        )
        """,
        // Actions of older builds were never announced, and are history now: marked as announced, never sent late.
        """
        INSERT INTO model_actions_v4 (action_id, version, action, actor, acted_at, note, announced_at)
        SELECT action_id, version, action, actor, acted_at, note, acted_at FROM model_actions
        """,
        "DROP TABLE model_actions",
        "ALTER TABLE model_actions_v4 RENAME TO model_actions",
        "CREATE INDEX model_actions_by_version ON model_actions (version, acted_at)",
        "CREATE INDEX model_actions_unannounced ON model_actions (acted_at) WHERE announced_at IS NULL",
    ];

    // Canary rollouts (docs/ROLLOUT.md): one per promotion that tries the candidate on a share of sessions first, with
    // the stable model it is compared with, and every decision taken on it with its numbers. At most one rollout per app
    // is open (active or halted): the partial unique index keeps that true with several writers.
    private static readonly string[] Rollouts =
    [
        """
        CREATE TABLE rollouts (
            rollout_id           TEXT             NOT NULL PRIMARY KEY,
            app_id               TEXT             NOT NULL,
            version              TEXT             NOT NULL REFERENCES model_versions (version),
            stable_version       TEXT             NOT NULL REFERENCES model_versions (version),
            canary_percent       INTEGER          NOT NULL CHECK (canary_percent BETWEEN 1 AND 100),
            max_duration_seconds DOUBLE PRECISION NOT NULL,
            state                TEXT             NOT NULL CHECK (state IN ('active', 'halted', 'promoted', 'rolled_back', 'superseded')),
            started_at           TEXT             NOT NULL,
            ended_at             TEXT,
            reason               TEXT
        )
        """,
        "CREATE INDEX rollouts_by_app ON rollouts (app_id, started_at)",
        "CREATE UNIQUE INDEX rollouts_one_open_per_app ON rollouts (app_id) WHERE state IN ('active', 'halted')",
        """
        CREATE TABLE rollout_decisions (
            decision_id    TEXT             NOT NULL PRIMARY KEY,
            rollout_id     TEXT             NOT NULL REFERENCES rollouts (rollout_id),
            decision       TEXT             NOT NULL CHECK (decision IN ('extend', 'promote', 'rollback', 'halt')),
            actor          TEXT             NOT NULL,
            by_person      INTEGER          NOT NULL CHECK (by_person IN (0, 1)),
            reason         TEXT             NOT NULL,
            stable_shown   BIGINT,
            stable_engaged BIGINT,
            canary_shown   BIGINT,
            canary_engaged BIGINT,
            lower_bound    DOUBLE PRECISION,
            upper_bound    DOUBLE PRECISION,
            decided_at     TEXT             NOT NULL
        )
        """,
        "CREATE INDEX rollout_decisions_by_rollout ON rollout_decisions (rollout_id, decided_at)",
    ];

    // Apps whose due run waits for review (the pipeline's review.required): one row per app while it waits, removed when
    // the run starts. A table of its own, not a run status: no run exists yet (its snapshot is taken when it starts), and
    // the runs table's status CHECK cannot be altered in SQLite without rebuilding the tables that reference it.
    private static readonly string[] ReviewWaits =
    [
        """
        CREATE TABLE review_waits (
            app_id           TEXT             NOT NULL PRIMARY KEY,
            since            TEXT             NOT NULL,
            checked_at       TEXT             NOT NULL,
            new_pairs        BIGINT           NOT NULL,
            reviewed_pairs   BIGINT           NOT NULL,
            needed_pairs     BIGINT           NOT NULL,
            min_fraction     DOUBLE PRECISION NOT NULL,
            reason           TEXT             NOT NULL
        )
        """,
    ];

    // An attempt whose worker shut down before it ended (a drain that ran out of time) is 'interrupted': offered again at
    // once and not one of the job's attempts (docs/WORKERS.md). A CHECK cannot be altered in SQLite, so the table is
    // rebuilt; nothing references it.
    private static readonly string[] InterruptedAttempts =
    [
        """
        CREATE TABLE attempts_v7 (
            job_id       TEXT    NOT NULL REFERENCES jobs (job_id),
            attempt      INTEGER NOT NULL,
            state        TEXT    NOT NULL CHECK (state IN ('offered', 'running', 'succeeded', 'failed', 'timed_out', 'lost', 'cancelled', 'interrupted')),
            worker_id    TEXT,
            slot         INTEGER,
            offered_at   TEXT    NOT NULL,
            started_at   TEXT,
            heartbeat_at TEXT,
            ended_at     TEXT,
            progress     TEXT,
            reason       TEXT,
            exit_code    INTEGER,
            log_path     TEXT,
            output_path  TEXT,
            metrics      TEXT,
            PRIMARY KEY (job_id, attempt)
        )
        """,
        """
        INSERT INTO attempts_v7 (job_id, attempt, state, worker_id, slot, offered_at, started_at, heartbeat_at, ended_at, progress, reason,
                                 exit_code, log_path, output_path, metrics)
        SELECT job_id, attempt, state, worker_id, slot, offered_at, started_at, heartbeat_at, ended_at, progress, reason,
               exit_code, log_path, output_path, metrics FROM attempts
        """,
        "DROP TABLE attempts",
        "ALTER TABLE attempts_v7 RENAME TO attempts",
    ];

    // Which orchestrator is the active one (docs/adr/0037-postgresql-store-and-one-active-orchestrator.md): the lease's
    // generation, bumped at every takeover and checked by every write of the holder (the fence), and every takeover with
    // who held it before, for operators and tests. The lock itself is not a row: it lives and dies with its holder.
    private static readonly string[] Leadership =
    [
        """
        CREATE TABLE leadership (
            role       TEXT   NOT NULL PRIMARY KEY,
            generation BIGINT NOT NULL,
            holder     TEXT   NOT NULL,
            since      TEXT   NOT NULL
        )
        """,
        """
        CREATE TABLE handovers (
            role            TEXT   NOT NULL,
            generation      BIGINT NOT NULL,
            holder          TEXT   NOT NULL,
            previous_holder TEXT,
            taken_at        TEXT   NOT NULL,
            PRIMARY KEY (role, generation)
        )
        """,
    ];
}
