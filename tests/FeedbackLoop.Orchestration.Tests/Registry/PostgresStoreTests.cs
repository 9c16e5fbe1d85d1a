using Dapper;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Registry;
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

/// <summary>One active orchestrator: the lease passes to the standby when the holder's connection drops, and the old holder is fenced.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OrchestratorLeaseTests(PostgresServer server)
{
    private static readonly DatasetSnapshot Snapshot = new("demo", [new SnapshotFile("datasets/demo/part-000.parquet", 100)]);

    [Fact]
    public async Task The_standby_takes_over_when_the_holders_connection_drops_and_the_old_holder_can_no_longer_write()
    {
        var name = server.NewDatabase("lease");
        var location = StoreLocation.Parse(server.Url(name));
        // Two openings as two processes have them: each its own connections and its own fence.
        var first = StoreDatabase.OpenUnshared(location);
        var second = StoreDatabase.OpenUnshared(location);
        await using var active = await OrchestratorLease.AcquireAsync(first, "host-1", _ => { }, CancellationToken.None);
        var told = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var standby = OrchestratorLease.AcquireAsync(second, "host-2", holder => told.TrySetResult(holder), CancellationToken.None);

        Assert.Equal("host-1", await told.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(standby.IsCompleted);

        // What the server sees when the holder's process is SIGKILLed: its lock session ends.
        using (var admin = new NpgsqlConnection(server.ConnectionString(name)))
        {
            Assert.Equal(1, admin.ExecuteScalar<int>(
                """
                SELECT COUNT(pg_terminate_backend(pid)) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND classid = @lock_class AND objid = @lock_object
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """, new { lock_class = StoreDialect.LockClass, lock_object = StoreDialect.LeadershipLock }));
        }

        await using var taken = await standby.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([(1L, "host-1", (string?)null), (2L, "host-2", "host-1")],
            OrchestratorLease.Handovers(second).Select(h => (h.Generation, h.Holder, h.PreviousHolder)));
        // The fence: the old holder's next write is refused inside its transaction, and it learns it lost the lease.
        Assert.Throws<LeadershipLostException>(() => new ModelRegistry(first).TryStartRun("demo-run-1", "demo", Snapshot));
        Assert.True(active.Lost.IsCancellationRequested);
        Assert.Empty(new ModelRegistry(second).ListRuns("demo"));
        Assert.True(new ModelRegistry(second).TryStartRun("demo-run-1", "demo", Snapshot));
    }
}
