using DuckDB.NET.Data;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Training.Adapters;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// A command trainer (the GPU path) of a run on a reviewed snapshot reads one file of exactly the reviewed pairs: the
/// worker writes it from the snapshot with the dataset source, and a file changed since the snapshot fails the attempt.
/// The stand-in trainer runs as a real process; DuckDB reads what it was given.
/// </summary>
public sealed class ReviewedCommandJobTests : IDisposable
{
    private const string App = "demo";
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "fake-trainer.sh");

    private readonly TempFolder _root = new("reviewed-command");
    private readonly string _markers;

    public ReviewedCommandJobTests() => _markers = Directory.CreateDirectory(Path.Combine(_root, "markers")).FullName;

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task The_trainer_reads_one_file_of_exactly_the_reviewed_pairs()
    {
        var (frozen, excluded, swapped) = await FreezeReviewedAsync();

        var (result, data) = await RunTuneAsync(frozen);

        Assert.IsType<AttemptSucceeded>(result);
        var file = Assert.Single(Directory.GetFiles(data));
        Assert.Equal($"part-{frozen.SnapshotId}.parquet", Path.GetFileName(file));
        var rows = Query($"SELECT pair_id, chosen[1].content, rejected[1].content FROM read_parquet('{file}') ORDER BY pair_id");
        Assert.Equal(7, rows.Count);
        Assert.DoesNotContain(rows, r => excluded.Contains(r[0]));
        var swappedRow = rows.Single(r => r[0] == swapped.PairId);
        Assert.Equal((swapped.Rejected.Content, swapped.Chosen.Content), (swappedRow[1], swappedRow[2]));
    }

    [Fact]
    public async Task A_dataset_file_changed_since_the_snapshot_fails_the_attempt_before_the_trainer_starts()
    {
        var (frozen, _, _) = await FreezeReviewedAsync();
        await File.AppendAllTextAsync(frozen.Files[0].Path, "tampered");

        var (result, _) = await RunTuneAsync(frozen);

        var failed = Assert.IsType<AttemptFailed>(result);
        Assert.StartsWith($"snapshot {frozen.SnapshotId} could not be read on this worker", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("SHA-256 differs", failed.Reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_markers, "starts.log")), "the trainer must not start");
    }

    private async Task<(DatasetSnapshot Frozen, HashSet<string?> Excluded, PreferencePair Swapped)> FreezeReviewedAsync()
    {
        var output = new ExtractionOutput();
        output.Pairs.AddRange(Enumerable.Range(1, 10).Select(n => new PreferencePair(
            StableId.Pair("comparison", $"c{n}", $"r{n}"), App, [new ConversationTurn("user", $"Question {n}")],
            new ConversationTurn("assistant", $"Good {n}"), new ConversationTurn("assistant", $"Bad {n}"),
            "comparison", 1.0, $"c{n}", $"r{n}", "m1", "m1", $"s{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n))));
        await new DatasetStore(_root).WriteAsync(output);
        var log = new ReviewLog(_root, App);
        var excluded = output.Pairs.Take(3).Select(p => (string?)p.PairId).ToHashSet(StringComparer.Ordinal);
        foreach (var id in excluded) await log.DecideAsync(new ReviewRequest(id!, ReviewActions.Exclude, "ann", "duplicate"));
        await log.DecideAsync(new ReviewRequest(output.Pairs[5].PairId, ReviewActions.Swap, "ann"));
        var source = new DatasetSnapshots(_root);
        return (await source.FreezeAsync(await source.CaptureAsync(App)), excluded, output.Pairs[5]);
    }

    private async Task<(AttemptResult Result, string Data)> RunTuneAsync(DatasetSnapshot frozen)
    {
        var spec = new JobSpec(
            JobKinds.Tune, JobRunners.Command, "demo-run-1", App, "demo-m1", frozen.Files, 0.25, 7, Path.Combine(_root, "models", "demo-m1"),
            ["/bin/sh", Script, "tune", "--data", "{train}", "--output", "{output}", "--markers", _markers], [],
            new Dictionary<string, string>(), null, null, null, 60) { SnapshotId = frozen.SnapshotId };
        var executor = new JobExecutor(
            new WorkerOptions { WorkerId = "w1", Gpus = 0, WorkDirectory = Path.Combine(_root, "worker") },
            new InProcessTrainers(new DatasetSnapshots(_root), new MlNetRewardTrainer(), new MlNetPairwiseEvaluator()));
        var attemptFolder = Path.Combine(_root, "worker", "jobs", "1");
        using var log = new AttemptLog(Path.Combine(_root, "worker", "logs", "attempt-1.log"));
        var result = await executor.RunAsync(new JobOffered("demo-run-1-tune", 1, spec), 0, attemptFolder, log, CancellationToken.None);
        return (result, Path.Combine(attemptFolder, "data"));
    }

    private static List<string?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string?[]>();
        while (reader.Read())
        {
            var row = new string?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i).ToString();
            rows.Add(row);
        }
        return rows;
    }
}
