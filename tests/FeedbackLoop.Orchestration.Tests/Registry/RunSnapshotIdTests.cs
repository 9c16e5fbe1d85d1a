using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Tests.Support;

namespace FeedbackLoop.Orchestration.Tests.Registry;

/// <summary>The registry records which reviewed snapshot a run trains on, and reads rows older builds wrote without one.</summary>
/// <summary>Run on both engines: <see cref="RunSnapshotIdTestsOnSqlite"/> and <see cref="RunSnapshotIdTestsOnPostgres"/> (below).</summary>
public abstract class RunSnapshotIdTests : IDisposable
{
    private readonly TempDatabase _database;

    protected RunSnapshotIdTests(PostgresServer? server) => _database = new TempDatabase(server);

    public void Dispose()
    {
        _database.Dispose();
        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData("snap-0123456789abcdef")]
    [InlineData(null)]
    public void A_run_keeps_the_snapshot_id_it_started_with(string? snapshotId)
    {
        var registry = new ModelRegistry(_database.Location);
        var snapshot = new DatasetSnapshot("demo", [new SnapshotFile("datasets/demo/preference-pairs/part-1.parquet", 250)]) { SnapshotId = snapshotId };

        Assert.True(registry.TryStartRun("demo-run-1", "demo", snapshot));

        var run = new ModelRegistry(_database.Location).GetRun("demo-run-1")!;
        Assert.Equal(snapshotId, run.Snapshot.SnapshotId);
        Assert.Equal(snapshot.Files, run.Snapshot.Files);
    }

    [Fact]
    public void A_run_row_written_before_snapshot_ids_reads_as_files_only()
    {
        var registry = new ModelRegistry(_database.Location);
        Assert.True(registry.TryStartRun("demo-run-1", "demo", new DatasetSnapshot("demo", [new SnapshotFile("part-1.parquet", 7)])));
        using (var connection = _database.ConnectRaw())
        {
            using var update = connection.CreateCommand();
            update.CommandText = """UPDATE runs SET snapshot = '{"files":[{"path":"part-1.parquet","rows":7}],"total_pairs":7}'""";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var run = registry.GetRun("demo-run-1")!;

        Assert.Null(run.Snapshot.SnapshotId);
        Assert.Equal(7, run.Snapshot.TotalPairs);
    }
}

public sealed class RunSnapshotIdTestsOnSqlite() : RunSnapshotIdTests(null);

[Collection(PostgresCollection.Name)]
public sealed class RunSnapshotIdTestsOnPostgres(PostgresServer server) : RunSnapshotIdTests(server);
