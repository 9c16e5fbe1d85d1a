using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Orchestration.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>What only a SQLite store has: a file, its journal mode, its path and its permissions.</summary>
public sealed class SqliteStoreFileTests : IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => _database.Dispose();

    private ModelRegistry Open() => new(_database.Location, _clock);

    [Fact]
    public void The_file_is_in_wal_mode_and_records_its_schema_version()
    {
        Open();

        using var connection = new SqliteConnection($"Data Source={_database.Location};Pooling=False");
        connection.Open();
        using var mode = connection.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode";
        using var version = connection.CreateCommand();
        version.CommandText = "SELECT version, applied_at FROM schema_version";
        using var reader = version.ExecuteReader();

        Assert.Equal("wal", mode.ExecuteScalar());
        for (var expected = 1L; expected <= StoreSchema.Version; expected++)
        {
            Assert.True(reader.Read());
            Assert.Equal((expected, "2025-03-01T12:00:00.0000000Z"), (reader.GetInt64(0), reader.GetString(1)));
        }

        Assert.False(reader.Read());
    }

    [Fact]
    public void A_process_opens_and_migrates_a_file_once_and_shares_it()
    {
        var first = StoreDatabase.Open(_database.Location, _clock);
        var registry = new ModelRegistry(_database.Location, _clock);
        var jobs = new FeedbackLoop.Orchestration.Jobs.JobStore(registry.Database, _clock);

        Assert.Same(first, registry.Database);
        Assert.Same(first, StoreDatabase.Open(Path.Combine(Path.GetDirectoryName(_database.Location)!, ".", "registry.db")));
        Assert.Empty(jobs.List());
    }

    [Fact]
    public void A_new_file_is_readable_by_its_owner_only()
    {
        Open();
        if (OperatingSystem.IsWindows())
        {
            return; // no Unix file modes
        }


        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_database.Location));
    }

    [Fact]
    public async Task A_second_orchestrator_on_the_file_waits_until_the_first_releases_its_lease()
    {
        var location = StoreLocation.Parse(_database.Location);
        var first = StoreDatabase.OpenUnshared(location, _clock);
        var second = StoreDatabase.OpenUnshared(location, _clock);
        var active = await OrchestratorLease.AcquireAsync(first, "host-1", _ => { }, CancellationToken.None);
        var told = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var standby = OrchestratorLease.AcquireAsync(second, "host-2", holder => told.TrySetResult(holder), CancellationToken.None);

        Assert.Equal("host-1", await told.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(standby.IsCompleted);
        await active.DisposeAsync();
        await using var taken = await standby.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([(1L, "host-1", (string?)null), (2L, "host-2", "host-1")],
            OrchestratorLease.Handovers(second).Select(h => (h.Generation, h.Holder, h.PreviousHolder)));
    }
}
