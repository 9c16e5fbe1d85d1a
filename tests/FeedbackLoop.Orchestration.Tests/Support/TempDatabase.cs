using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace FeedbackLoop.Orchestration.Tests.Support;

/// <summary>The tests that share one private PostgreSQL server (each test has a database of its own in it).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    /// <summary>The collection's name, for <c>[Collection(PostgresCollection.Name)]</c>.</summary>
    public const string Name = "PostgreSQL";
}

/// <summary>
/// A fresh, empty store for one test: a registry file in a temp folder (removed with its WAL files when the test ends), or,
/// given a server, a new database of its own on that private PostgreSQL server. The store tests run on both through it.
/// </summary>
internal sealed class TempDatabase : IDisposable
{
    private readonly TempFolder? _folder;
    private readonly PostgresServer? _server;
    private readonly string? _databaseName;

    public TempDatabase(PostgresServer? server = null)
    {
        if (server is null)
        {
            _folder = new TempFolder("registry");
            return;
        }

        _server = server;
        _databaseName = server.NewDatabase();
    }

    /// <summary>What <c>--store</c> would name: the SQLite file's path, or the database's <c>postgres://</c> URL.</summary>
    public string Location => _server is null ? _folder!.Combine("registry.db") : _server.Url(_databaseName!);

    /// <summary>Whether this is a PostgreSQL database.</summary>
    public bool IsPostgres => _server is not null;

    /// <summary>A raw connection to the store, past the registry (to write rows as an older build did), opened.</summary>
    public DbConnection ConnectRaw()
    {
        DbConnection connection;
        if (_server is null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Location)!);
            connection = new SqliteConnection($"Data Source={Location};Pooling=False");
        }
        else
        {
            connection = new NpgsqlConnection(_server.ConnectionString(_databaseName!));
        }

        connection.Open();
        return connection;
    }

    public void Dispose() => _folder?.Dispose();
}
