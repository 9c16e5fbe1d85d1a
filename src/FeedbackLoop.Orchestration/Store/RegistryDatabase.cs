using FeedbackLoop.Orchestration.Registry;
using Microsoft.Data.Sqlite;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>
/// The registry's SQLite file, shared by <see cref="ModelRegistry"/> and the job store: opening it creates the file
/// and folder when missing and applies the schema migrations it lacks. Each caller opens its own connection per
/// call, which makes both safe to share between concurrent consumers (SQLite serializes the writes).
/// </summary>
internal sealed class RegistryDatabase
{
    private readonly string _connectionString;

    /// <exception cref="InvalidDataException">The file was written by a newer build (a higher schema version).</exception>
    public RegistryDatabase(string databasePath, TimeProvider clock)
    {
        FilePath = Path.GetFullPath(databasePath);
        if (Path.GetDirectoryName(FilePath) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        // No pooling: no handle outlives a call, so the file can be copied or removed once the registry is idle.
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            ForeignKeys = true,
        }.ToString();
        Migrate(clock);
    }

    public string FilePath { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private void Migrate(TimeProvider clock)
    {
        using var connection = Open();

        // WAL lets readers (the review UI, the CLI) read while the orchestrator writes; it is a property of the
        // file, so setting it once here holds for every later connection. It is the one SQLite-only statement.
        Sql.Execute(connection, null, "PRAGMA journal_mode = WAL");

        foreach (var (version, statements) in RegistrySchema.Migrations)
        {
            using var transaction = Sql.BeginWrite(connection);
            // The table may not exist yet: the first migration creates it.
            var applied = version > 1 && Convert.ToInt64(
                Sql.Scalar(connection, transaction, "SELECT COUNT(*) FROM schema_version WHERE version = @version", ("@version", version)),
                System.Globalization.CultureInfo.InvariantCulture) > 0;
            if (!applied)
            {
                foreach (var statement in statements)
                {
                    Sql.Execute(connection, transaction, statement);
                }

                Sql.Execute(connection, transaction,
                    "INSERT INTO schema_version (version, applied_at) VALUES (@version, @applied_at) ON CONFLICT (version) DO NOTHING",
                    ("@version", version), ("@applied_at", StoreText.Timestamp(clock.GetUtcNow())));
            }

            transaction.Commit();
        }

        var newest = Convert.ToInt64(Sql.Scalar(connection, null, "SELECT MAX(version) FROM schema_version"),
            System.Globalization.CultureInfo.InvariantCulture);
        if (newest > RegistrySchema.Version)
        {
            throw new InvalidDataException($"{FilePath} has registry schema version {newest}; this build knows up to {RegistrySchema.Version}");
        }
    }
}

/// <summary>The few ADO.NET steps every registry query takes, with parameters always bound (never spliced into SQL).</summary>
internal static class Sql
{
    // IMMEDIATE: take the write lock at BEGIN, so a transaction that reads then writes cannot fail half-way with
    // SQLITE_BUSY when another writer got in between (it waits for the lock instead).
    public static SqliteTransaction BeginWrite(SqliteConnection connection) => connection.BeginTransaction(deferred: false);

    public static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    // The command is left to the connection, which disposes its commands when it closes at the end of the call.
    public static SqliteDataReader Reader(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters) =>
        Command(connection, transaction, sql, parameters).ExecuteReader();

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
