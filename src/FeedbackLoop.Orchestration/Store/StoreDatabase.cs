using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>
/// The loop's store (runs, models, jobs, attempts, rollouts): a SQLite file, or a PostgreSQL database
/// (<see cref="StoreLocation"/>), opened once per process: <see cref="Open"/> creates a SQLite file (owner-only) and its
/// folder when missing, and applies every migration of <see cref="StoreSchema"/> the store lacks, the first time a process
/// asks for that store; later callers get the same instance. The registry and the job store take it and ask it for a
/// connection per call, which makes both safe to share between concurrent consumers (writes are serialized: see
/// <see cref="StoreDialect"/>).
/// </summary>
public sealed class StoreDatabase
{
    // By location: the registry, the job store and the CLI's commands in one process share one opening, so the
    // migrations run once however many of them open the store.
    private static readonly ConcurrentDictionary<string, StoreDatabase> Opened = new(StringComparer.Ordinal);
    private static readonly Lock OpenLock = new();

    private readonly string _connectionString;
    private readonly NpgsqlDataSource? _postgres;

    // Rows are read into small row types by column name: job_id fills JobId. Dapper keeps this setting process-wide.
    static StoreDatabase() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    private StoreDatabase(StoreLocation location)
    {
        Location = location;
        Dialect = location.Engine == StoreEngine.Sqlite ? StoreDialect.Sqlite : StoreDialect.PostgreSql;
        if (location.Engine == StoreEngine.Sqlite)
        {
            // No pooling: no handle outlives a call, so the file can be copied or removed once the store is idle.
            // DefaultTimeout is how long a statement waits for another writer's lock (SQLITE_BUSY) before it fails.
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = location.Text,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                ForeignKeys = true,
                DefaultTimeout = 30,
            }.ToString();
        }
        else
        {
            // Pooled (a server connection is costly to open); the command timeout (Npgsql's default, 30 s) bounds the wait
            // for the write lock as SQLite's busy timeout does.
            _connectionString = location.ConnectionStringWithSecret();
            _postgres = NpgsqlDataSource.Create(_connectionString);
        }
    }

    /// <summary>Where the store lives, without secrets: the SQLite file's full path, or the PostgreSQL connection string.</summary>
    public StoreLocation Location { get; }

    /// <summary>The SQLite file's full path, or the PostgreSQL connection string without a password (what reopens this store).</summary>
    public string FilePath => Location.Text;

    /// <summary>What differs between the engines.</summary>
    public StoreDialect Dialect { get; }

    /// <summary>
    /// The store at <paramref name="location"/> (a SQLite path, <c>postgres://…</c> or <c>Host=…</c>), created and migrated
    /// by the first call of this process for that store.
    /// </summary>
    /// <param name="location">The SQLite file, or the PostgreSQL database (see <see cref="StoreLocation"/>).</param>
    /// <param name="clock">The clock that dates the migrations applied now; the system clock by default.</param>
    /// <exception cref="InvalidDataException">The store was written by a newer build (a higher schema version).</exception>
    /// <exception cref="ArgumentException">The location is malformed or carries a password.</exception>
    public static StoreDatabase Open(string location, TimeProvider? clock = null)
    {
        var parsed = StoreLocation.Parse(location);

        // A file removed since (a test's folder, an operator starting over) is created and migrated afresh.
        if (Opened.TryGetValue(parsed.Text, out var known) && known.StillThere())
        {
            return known;
        }

        // One opener at a time: two first openings of one store must not both migrate it. A failed opening is not kept.
        lock (OpenLock)
        {
            if (Opened.TryGetValue(parsed.Text, out known) && known.StillThere())
            {
                return known;
            }

            var database = OpenUnshared(parsed, clock);
            Opened[parsed.Text] = database;
            return database;
        }
    }

    /// <summary>
    /// A new opening of the store that no other caller of this process shares, created and migrated as another process
    /// would: how the tests race openings that only separate processes race in production.
    /// </summary>
    internal static StoreDatabase OpenUnshared(StoreLocation location, TimeProvider? clock = null)
    {
        var database = new StoreDatabase(location);
        database.Create();
        database.Migrate(clock ?? TimeProvider.System);
        return database;
    }

    /// <summary>
    /// The orchestrator lease this process holds, when it holds one: every write then checks that the lease was not taken
    /// over since (<see cref="OrchestratorLease.CheckFence"/>).
    /// </summary>
    internal OrchestratorLease? Fence { get; set; }

    /// <summary>
    /// Begins a transaction that will write (<see cref="StoreDialect.BeginWrite"/>: one writer at a time); in an orchestrator
    /// it is refused when its lease was taken over.
    /// </summary>
    /// <exception cref="LeadershipLostException">This process's orchestrator lease was taken over by another.</exception>
    internal DbTransaction BeginWrite(DbConnection connection)
    {
        var transaction = Dialect.BeginWrite(connection);
        if (Fence is { } fence)
        {
            try
            {
                fence.CheckFence(connection, transaction);
            }
            catch
            {
                transaction.Dispose();
                throw;
            }
        }

        return transaction;
    }

    /// <summary>A new open connection; the caller disposes it.</summary>
    internal DbConnection Connect()
    {
        if (_postgres is not null)
        {
            return _postgres.OpenConnection();
        }

        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>
    /// A new open PostgreSQL connection of its own (not from the pool), for a session that must end when this process
    /// dies: the leadership lock.
    /// </summary>
    internal NpgsqlConnection ConnectUnpooled()
    {
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false, KeepAlive = 5 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        return connection;
    }

    private bool StillThere() => Location.Engine != StoreEngine.Sqlite || File.Exists(Location.Text);

    private void Create()
    {
        if (Location.Engine != StoreEngine.Sqlite)
        {
            return;
        }

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
        Dialect.Prepare(connection);

        // Two processes starting at once against one PostgreSQL database take turns (the first migrates, the second
        // finds every migration applied); each migration is also its own write transaction.
        using var migrating = Dialect.LockMigrations(connection);

        // Refuse a newer store before touching it.
        if (Dialect.HasTable(connection, "schema_version") && Newest(connection) is var newest && newest > StoreSchema.Version)
        {
            throw new InvalidDataException($"{FilePath} has schema version {newest}; this build knows up to {StoreSchema.Version}");
        }

        foreach (var (version, statements) in StoreSchema.Migrations)
        {
            using var transaction = Dialect.BeginWrite(connection);
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

        // Again after migrating: another process of a newer build may have migrated the store meanwhile.
        if (Newest(connection) is var after && after > StoreSchema.Version)
        {
            throw new InvalidDataException($"{FilePath} has schema version {after}; this build knows up to {StoreSchema.Version}");
        }
    }

    private static long Newest(DbConnection connection) =>
        connection.ExecuteScalar<long?>("SELECT MAX(version) FROM schema_version") ?? 0;
}
