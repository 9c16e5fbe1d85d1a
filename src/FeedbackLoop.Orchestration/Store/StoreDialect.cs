using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>The two engines a store runs on.</summary>
public enum StoreEngine
{
    /// <summary>An embedded SQLite file (the default: a plain path).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database (<c>postgres://…</c> or an Npgsql <c>Host=…</c> connection string).</summary>
    PostgreSql,
}

/// <summary>
/// Everything the store does differently on SQLite and on PostgreSQL, in one place (docs/adr/0037-postgresql-store-and-one-active-orchestrator.md).
/// The SQL of the registry and the job store is the same text on both (upserts are <c>ON CONFLICT</c>, booleans are
/// 0/1 integers, times are ISO-8601 text, nothing uses <c>RETURNING</c> or <c>INSERT OR IGNORE</c>); what differs is how a
/// write transaction begins, how the migrations are kept to one process at a time, and how the catalog is asked.
/// </summary>
/// <remarks>
/// Writers are serialized on both engines: SQLite's <c>BEGIN IMMEDIATE</c> takes the file's write lock; on PostgreSQL a
/// write transaction first takes one transaction-scoped advisory lock that every writer of the store takes. Each read
/// that follows sees every write committed before (READ COMMITTED takes a new snapshot per statement), so a transaction
/// that reads and then writes behaves as it does on SQLite and never fails with a serialization error; waiting for the
/// lock is bounded by the command timeout (30 s, as SQLite's busy timeout). The store's writes are few and short, so one
/// writer at a time costs nothing that matters.
/// </remarks>
public sealed class StoreDialect
{
    /// <summary>SQLite.</summary>
    public static readonly StoreDialect Sqlite = new(StoreEngine.Sqlite);

    /// <summary>PostgreSQL.</summary>
    public static readonly StoreDialect PostgreSql = new(StoreEngine.PostgreSql);

    // The advisory locks of a store, as (class, object) pairs: one class for FeedbackLoop ('FLst'), one object per use.
    // Advisory locks are per database, so two stores on one server never contend.
    internal const int LockClass = 0x464C7374;
    internal const int WriteLock = 1;
    internal const int MigrationLock = 2;
    internal const int LeadershipLock = 3;

    private StoreDialect(StoreEngine engine) => Engine = engine;

    /// <summary>The engine.</summary>
    public StoreEngine Engine { get; }

    /// <summary>Begins a transaction that will write: it holds the store's one write lock from its first statement.</summary>
    internal DbTransaction BeginWrite(DbConnection connection)
    {
        if (Engine == StoreEngine.Sqlite)
        {
            // IMMEDIATE: take the write lock at BEGIN, so a transaction that reads then writes cannot fail half-way with
            // SQLITE_BUSY when another writer got in between (it waits for the lock instead).
            return ((SqliteConnection)connection).BeginTransaction(deferred: false);
        }

        var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        connection.Execute("SELECT pg_advisory_xact_lock(@lock_class, @lock_object)", new { lock_class = LockClass, lock_object = WriteLock }, transaction);
        return transaction;
    }

    /// <summary>What a store needs once per opening before it migrates (SQLite: WAL; PostgreSQL: nothing).</summary>
    internal void Prepare(DbConnection connection)
    {
        if (Engine == StoreEngine.Sqlite)
        {
            // WAL lets readers (the review UI, the CLI) read while the orchestrator writes; it is a property of the file,
            // so setting it once here holds for every later connection.
            connection.Execute("PRAGMA journal_mode = WAL");
        }
    }

    /// <summary>
    /// Keeps the migrations to one process at a time: on PostgreSQL a session advisory lock, released when the returned
    /// handle is disposed (or when the connection drops). On SQLite each migration's IMMEDIATE transaction is enough.
    /// </summary>
    internal IDisposable LockMigrations(DbConnection connection)
    {
        if (Engine == StoreEngine.Sqlite)
        {
            return NoLock.Instance;
        }

        connection.Execute("SELECT pg_advisory_lock(@lock_class, @lock_object)", new { lock_class = LockClass, lock_object = MigrationLock });
        return new Unlock(connection);
    }

    /// <summary>Whether the store has table <paramref name="table"/> yet.</summary>
    internal bool HasTable(DbConnection connection, string table) => Engine == StoreEngine.Sqlite
        ? connection.ExecuteScalar<string?>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = @table", new { table }) is not null
        : connection.ExecuteScalar<bool>("SELECT to_regclass(@table) IS NOT NULL", new { table });

    private sealed class NoLock : IDisposable
    {
        public static readonly NoLock Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Unlock(DbConnection connection) : IDisposable
    {
        public void Dispose() =>
            connection.Execute("SELECT pg_advisory_unlock(@lock_class, @lock_object)", new { lock_class = LockClass, lock_object = MigrationLock });
    }
}
