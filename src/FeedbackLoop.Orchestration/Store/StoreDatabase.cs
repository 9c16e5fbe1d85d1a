using System.Collections.Concurrent;
using Dapper;
using Microsoft.Data.Sqlite;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>
/// The loop's SQLite file (runs, models, jobs, attempts), opened once per process: <see cref="Open"/> creates the file
/// (owner-only) and its folder when missing, sets WAL, and applies every migration of <see cref="StoreSchema"/> it lacks,
/// the first time a process asks for that file; later callers get the same instance. The registry and the job store take
/// it and ask it for a connection per call, which makes both safe to share between concurrent consumers (SQLite
/// serializes the writes).
/// </summary>
public sealed class StoreDatabase
{
    // By full path: the registry, the job store and the CLI's commands in one process share one opening, so the
    // migrations run once however many of them open the file.
    private static readonly ConcurrentDictionary<string, StoreDatabase> Opened = new(StringComparer.Ordinal);
    private static readonly Lock OpenLock = new();

    private readonly string _connectionString;

    // Rows are read into small row types by column name: job_id fills JobId. Dapper keeps this setting process-wide.
    static StoreDatabase() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    private StoreDatabase(string filePath)
    {
        FilePath = filePath;

        // No pooling: no handle outlives a call, so the file can be copied or removed once the store is idle.
        // DefaultTimeout is how long a statement waits for another writer's lock (SQLITE_BUSY) before it fails.
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            ForeignKeys = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>
    /// The store in <paramref name="databasePath"/>, created and migrated by the first call of this process for that file.
    /// </summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="clock">The clock that dates the migrations applied now; the system clock by default.</param>
    /// <exception cref="InvalidDataException">The file was written by a newer build (a higher schema version).</exception>
    public static StoreDatabase Open(string databasePath, TimeProvider? clock = null)
    {
        var filePath = Path.GetFullPath(databasePath);

        // A file removed since (a test's folder, an operator starting over) is created and migrated afresh.
        if (Opened.TryGetValue(filePath, out var known) && File.Exists(filePath))
        {
            return known;
        }

        // One opener at a time: two first openings of one file must not both migrate it. A failed opening is not kept.
        lock (OpenLock)
        {
            if (Opened.TryGetValue(filePath, out known) && File.Exists(filePath))
            {
                return known;
            }

            var database = new StoreDatabase(filePath);
            database.Create();
            database.Migrate(clock ?? TimeProvider.System);
            Opened[filePath] = database;
            return database;
        }
    }

    /// <summary>A new open connection; the caller disposes it.</summary>
    internal SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private void Create()
    {
        if (Path.GetDirectoryName(FilePath) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (File.Exists(FilePath))
        {
            MakeOwnerOnly();
            return;
        }

        // Runs name dataset files and models; only the owner needs to read them. An empty file is an empty database,
        // and SQLite gives its -wal and -shm files the database file's mode.
        try
        {
            using var _ = new FileStream(FilePath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(FilePath))
        {
            // Another process created it first; it is theirs to have made private.
        }
    }

    /// <summary>
    /// A store made by an older version (or by hand) may be readable by others; the database and its -wal and -shm
    /// files lose group and other access. One that belongs to another user is left as it is (only its owner may change it).
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private void MakeOwnerOnly()
    {
        const UnixFileMode groupAndOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        foreach (var path in (string[])[FilePath, FilePath + "-wal", FilePath + "-shm"])
        {
            try
            {
                var mode = File.GetUnixFileMode(path);
                if ((mode & groupAndOther) != 0)
                {
                    File.SetUnixFileMode(path, mode & ~groupAndOther);
                }
            }
            catch (Exception e) when (e is FileNotFoundException or UnauthorizedAccessException)
            {
                // No such file (the -wal and -shm come and go), or not ours to change.
            }
        }
    }

    private void Migrate(TimeProvider clock)
    {
        using var connection = Connect();

        // WAL lets readers (the review UI, the CLI) read while the orchestrator writes; it is a property of the
        // file, so setting it once here holds for every later connection. It is the one SQLite-only statement.
        connection.Execute("PRAGMA journal_mode = WAL");

        // Refuse a newer file before touching it.
        var hasVersions = connection.ExecuteScalar<string?>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") is not null;
        if (hasVersions && Newest(connection) is var newest && newest > StoreSchema.Version)
        {
            throw new InvalidDataException($"{FilePath} has schema version {newest}; this build knows up to {StoreSchema.Version}");
        }

        foreach (var (version, statements) in StoreSchema.Migrations)
        {
            using var transaction = Sql.BeginWrite(connection);
            // The table may not exist yet: the first migration creates it.
            var applied = version > 1 &&
                connection.ExecuteScalar<long>("SELECT COUNT(*) FROM schema_version WHERE version = @version", new { version }, transaction) > 0;
            if (!applied)
            {
                foreach (var statement in statements)
                {
                    connection.Execute(statement, transaction: transaction);
                }

                connection.Execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (@version, @applied_at) ON CONFLICT (version) DO NOTHING",
                    new { version, applied_at = StoreText.Timestamp(clock.GetUtcNow()) }, transaction);
            }

            transaction.Commit();
        }

        // Again after migrating: another process of a newer build may have migrated the file meanwhile.
        if (Newest(connection) is var after && after > StoreSchema.Version)
        {
            throw new InvalidDataException($"{FilePath} has schema version {after}; this build knows up to {StoreSchema.Version}");
        }
    }

    private static long Newest(SqliteConnection connection) =>
        connection.ExecuteScalar<long?>("SELECT MAX(version) FROM schema_version") ?? 0;
}

/// <summary>The one SQLite-specific step every write takes.</summary>
internal static class Sql
{
    // IMMEDIATE: take the write lock at BEGIN, so a transaction that reads then writes cannot fail half-way with
    // SQLITE_BUSY when another writer got in between (it waits for the lock instead).
    public static SqliteTransaction BeginWrite(SqliteConnection connection) => connection.BeginTransaction(deferred: false);
}
