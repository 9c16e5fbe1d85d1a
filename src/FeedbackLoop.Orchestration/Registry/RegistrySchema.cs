namespace FeedbackLoop.Orchestration.Registry;

/// <summary>
/// The registry's tables. The DDL is kept to what SQLite and PostgreSQL both run unchanged: standard types
/// (TEXT, INTEGER, BIGINT, DOUBLE PRECISION, which SQLite maps to its INTEGER and REAL affinities; PostgreSQL's
/// REAL would be single precision and INTEGER 32 bits), ISO-8601 UTC text timestamps that sort as text, JSON as
/// TEXT, and partial unique indexes, which both engines enforce. Those indexes are what keep "one run in flight
/// per app" and "one promoted model per app" true even with several writers, not a check in our code.
/// </summary>
internal static class RegistrySchema
{
    /// <summary>The version this build writes; a file with a higher one came from a newer build and is refused.</summary>
    public const int Version = 1;

    public static readonly string[] Statements =
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
}
