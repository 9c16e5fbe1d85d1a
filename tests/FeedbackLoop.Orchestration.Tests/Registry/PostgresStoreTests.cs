using Dapper;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Orchestration.Tests.Support;
using Npgsql;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>What only a PostgreSQL store has: several processes migrating one database at once.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresServer server)
{
    [Fact]
    public void Openings_that_race_on_a_new_database_migrate_it_once()
    {
        var name = server.NewDatabase("race");
        var location = StoreLocation.Parse(server.Url(name));

        // Each opening is its own as a separate process's would be (no shared instance, its own connections).
        var failures = new List<Exception>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            try
            {
                StoreDatabase.OpenUnshared(location);
            }
            catch (Exception e)
            {
                lock (failures) failures.Add(e);
            }
        });

        Assert.Empty(failures);
        using var connection = new NpgsqlConnection(server.ConnectionString(name));
        Assert.Equal(Enumerable.Range(1, StoreSchema.Version).Select(v => (long)v),
            connection.Query<long>("SELECT version FROM schema_version ORDER BY version"));
    }
}

/// <summary>How <c>--store</c> is read: a path is SQLite, a URL or connection string is PostgreSQL, a password is refused.</summary>
public sealed class StoreLocationTests
{
    [Theory]
    [InlineData("postgres://loop@db.internal:5433/feedbackloop", "Host=db.internal;Port=5433;Database=feedbackloop;Username=loop")]
    [InlineData("postgresql://loop@db.internal/feedbackloop?sslmode=require", "Host=db.internal;Port=5432;Database=feedbackloop;Username=loop;SSL Mode=Require")]
    [InlineData("Host=db.internal;Database=feedbackloop;Username=loop", "Host=db.internal;Database=feedbackloop;Username=loop")]
    public void A_url_or_connection_string_is_postgresql(string value, string expected)
    {
        var location = StoreLocation.Parse(value);

        Assert.Equal(StoreEngine.PostgreSql, location.Engine);
        Assert.Equal(expected, location.Text);
    }

    [Theory]
    [InlineData("registry.db")]
    [InlineData("/var/lib/feedbackloop/registry.db")]
    public void A_path_is_a_sqlite_file(string value)
    {
        var location = StoreLocation.Parse(value);

        Assert.Equal((StoreEngine.Sqlite, Path.GetFullPath(value)), (location.Engine, location.Text));
    }

    [Theory]
    [InlineData("postgres://loop:s3cret@db.internal/feedbackloop", "password must not be on the command line")]
    [InlineData("Host=db.internal;Database=feedbackloop;Username=loop;Password=s3cret", "password must not be on the command line")]
    [InlineData("postgres://loop@db.internal/", "name the database")]
    [InlineData("postgres://loop@db.internal/feedbackloop?no_such_setting=1", "unknown PostgreSQL setting 'no_such_setting'")]
    public void A_bad_location_is_refused_with_a_reason_that_never_echoes_the_password(string value, string reason)
    {
        var refusal = Assert.Throws<ArgumentException>(() => StoreLocation.Parse(value));

        Assert.Contains(reason, refusal.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", refusal.Message, StringComparison.Ordinal);
    }
}
