using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Orchestration.Worker;

namespace FeedbackLoop.Orchestration.Tests.Workers;

/// <summary>
/// One attempt on a worker slot with the stand-in trainer as a real process: the snapshot folder, the expanded
/// template, the slot's GPU, metrics.json checked, the eval report with the extra checks.
/// </summary>
public sealed class JobExecutorTests : IDisposable
{
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "fake-trainer.sh");

    private readonly TempFolder _root = new("executor");
    private readonly string _markers;
    private readonly List<SnapshotFile> _files = [];

    public JobExecutorTests()
    {
        _markers = Directory.CreateDirectory(Path.Combine(_root, "markers")).FullName;
        // Two snapshot files of the same name in different folders: the links must not collide.
        foreach (var folder in (string[])["a", "b"])
        {
            var file = Path.Combine(Directory.CreateDirectory(Path.Combine(_root, "datasets", folder)).FullName, "part-0.parquet");
            File.WriteAllText(file, "not really parquet");
            _files.Add(new SnapshotFile(file, 10));
        }
    }

    public void Dispose() => _root.Dispose();

    private static string[] Trainer(string mode, params string[] more) =>
        ["/bin/sh", Script, mode, "--data", "{train}", "--output", "{output}", "--markers", "{markers}", .. more];

    private JobSpec Spec(string kind, IReadOnlyList<string> command, IReadOnlyList<IReadOnlyList<string>>? extra = null, string? incumbent = null) => new(
        kind, JobRunners.Command, "demo-run-1", "demo", "demo-m20", _files, 0.25, 7, Path.Combine(_root, "models", "demo-m20"), command, extra ?? [],
        new Dictionary<string, string>
        {
            ["markers"] = _markers,
            ["params"] = """{"beta": 0.1, "note": "two words"}""",
            ["candidate"] = Path.Combine(_root, "models", "candidate"),
            ["incumbent"] = incumbent ?? "",
        },
        kind == JobKinds.Eval ? Path.Combine(_root, "models", "candidate") : null, incumbent is null ? null : "demo-m10", incumbent, 60);

    private async Task<(AttemptResult Result, string Log)> RunAsync(JobSpec spec, int attempt = 1, int gpus = 2, int slot = 1)
    {
        var executor = new JobExecutor(new WorkerOptions { WorkerId = "w1", Gpus = gpus, WorkDirectory = Path.Combine(_root, "worker") }, trainers: null);
        var logPath = Path.Combine(_root, "worker", "logs", $"attempt-{attempt}.log");
        using (var log = new AttemptLog(logPath))
        {
            var result = await executor.RunAsync(new JobOffered("demo-run-1-" + spec.Kind, attempt, spec), slot,
                Path.Combine(_root, "worker", "jobs", attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)), log, CancellationToken.None);
            return (result, logPath);
        }
    }

    [Fact]
    public async Task A_trainer_that_exits_0_with_metrics_succeeds_with_them_and_saw_exactly_the_snapshot_on_its_gpu()
    {
        var (result, log) = await RunAsync(Spec(JobKinds.Tune, Trainer("tune", "--params", "{params}")), attempt: 2);

        var success = Assert.IsType<AttemptSucceeded>(result);
        Assert.Equal(Path.Combine(_root, "models", "demo-m20", "tune-2"), success.OutputDirectory);
        using var metrics = JsonDocument.Parse(success.MetricsJson);
        Assert.Equal(2, metrics.RootElement.GetProperty("snapshot_files").GetInt32());
        var lines = File.ReadAllLines(log);
        Assert.Contains(lines, l => l.Contains("CUDA_VISIBLE_DEVICES=1", StringComparison.Ordinal));
        // The JSON value with a space reached the trainer as one argument.
        Assert.EndsWith("""|{"beta": 0.1, "note": "two words"}""", File.ReadAllLines(Path.Combine(_markers, "starts.log")).Single(), StringComparison.Ordinal);
        var links = Directory.GetFiles(Path.Combine(_root, "worker", "jobs", "2", "data"));
        Assert.Equal(_files.Select(f => f.Path).Order(StringComparer.Ordinal), links.Select(l => new FileInfo(l).LinkTarget!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Slots_stand_for_the_devices_the_worker_was_given()
    {
        var options = new WorkerOptions { Gpus = 2, GpuIds = ["2", "3"] };

        Assert.Equal(("2", "3"), (options.DeviceOf(0), options.DeviceOf(1)));
        Assert.Equal(("0", "1", ""), (new WorkerOptions { Gpus = 2 }.DeviceOf(0), new WorkerOptions { Gpus = 2 }.DeviceOf(1), new WorkerOptions().DeviceOf(0)));
    }

    [Fact]
    public async Task A_cpu_slot_hides_every_gpu()
    {
        var (_, log) = await RunAsync(Spec(JobKinds.Tune, Trainer("tune")), gpus: 0, slot: 0);

        Assert.Contains(File.ReadAllLines(log), l => l.Contains("CUDA_VISIBLE_DEVICES=,", StringComparison.Ordinal) || l.EndsWith("CUDA_VISIBLE_DEVICES=)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_trainer_that_exits_non_zero_fails_with_its_exit_code_and_last_line()
    {
        File.WriteAllText(Path.Combine(_markers, "fail-always"), "");

        var (result, _) = await RunAsync(Spec(JobKinds.Tune, Trainer("tune")));

        var failure = Assert.IsType<AttemptFailed>(result);
        Assert.Equal(3, failure.ExitCode);
        Assert.Equal("the trainer exited 3; last line: simulated crash", failure.Reason);
    }

    [Theory]
    [InlineData("true", "the command exited 0 but wrote no {output}/metrics.json")]
    [InlineData("echo '[1, 2]' > \"$1/metrics.json\"", "{output}/metrics.json must hold a JSON object, got Array")]
    [InlineData("echo 'nope' > \"$1/metrics.json\"", "{output}/metrics.json is not JSON: ")]
    public async Task A_trainer_that_exits_0_without_good_metrics_fails(string script, string reason)
    {
        var (result, _) = await RunAsync(Spec(JobKinds.Tune, ["/bin/sh", "-c", script, "sh", "{output}"]));

        var failure = Assert.IsType<AttemptFailed>(result);
        Assert.StartsWith(reason.Replace("{output}", Path.Combine(_root, "models", "demo-m20", "tune-1"), StringComparison.Ordinal), failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_snapshot_file_fails_the_attempt_before_anything_runs()
    {
        File.Delete(_files[1].Path);

        var (result, _) = await RunAsync(Spec(JobKinds.Tune, Trainer("tune")));

        Assert.StartsWith($"snapshot file {_files[1].Path} is missing on this worker", Assert.IsType<AttemptFailed>(result).Reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_markers, "starts.log")));
    }

    [Fact]
    public async Task An_eval_scores_the_candidate_and_the_incumbent_then_runs_every_check()
    {
        var candidate = Directory.CreateDirectory(Path.Combine(_root, "models", "candidate")).FullName;
        var incumbent = Directory.CreateDirectory(Path.Combine(_root, "models", "incumbent")).FullName;
        File.WriteAllText(Path.Combine(candidate, "accuracy"), "0.9");
        File.WriteAllText(Path.Combine(incumbent, "accuracy"), "0.7");
        var eval = new[] { "/bin/sh", Script, "eval", "--data", "{eval}", "--model", "{model}", "--output", "{output}", "--markers", "{markers}" };
        IReadOnlyList<IReadOnlyList<string>> checks =
        [
            ["/bin/sh", "-c", "test \"$1\" = \"$2\"", "sh", "{model}", "{candidate}"],
            ["/bin/sh", "-c", "exit 5"],
            ["no-such-check"],
        ];

        var (result, log) = await RunAsync(Spec(JobKinds.Eval, eval, checks, incumbent));

        var report = EvalReport.Parse(Assert.IsType<AttemptSucceeded>(result).MetricsJson);
        Assert.Equal((0.9, 400, 0.7), (report.Candidate.Accuracy, report.Candidate.EvalPairs, report.Incumbent!.Accuracy));
        Assert.Equal([(int?)0, 5, null], report.Checks.Select(c => c.ExitCode));
        Assert.Equal("could not start 'no-such-check': no such program (searched PATH)", report.Checks[2].Error);
        Assert.Contains(File.ReadAllLines(log), l => l.Contains("evaluator (incumbent):", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(_root, "models", "demo-m20", "eval-1", "eval-report.json")));
    }

    [Fact]
    public async Task An_evaluator_whose_metrics_lack_the_accuracy_fails_the_attempt()
    {
        Directory.CreateDirectory(Path.Combine(_root, "models", "candidate"));

        var (result, _) = await RunAsync(Spec(JobKinds.Eval, ["/bin/sh", "-c", "echo '{{\"eval_pairs\": 3}}' > \"$1/metrics.json\"", "sh", "{output}"]));

        Assert.Equal("candidate: metrics.json has no number 'accuracy'", Assert.IsType<AttemptFailed>(result).Reason);
    }

    [Fact]
    public async Task A_worker_without_the_in_process_trainer_refuses_its_jobs()
    {
        var (result, _) = await RunAsync(Spec(JobKinds.Tune, []) with { Runner = JobRunners.MlNetReward });

        Assert.Equal("this worker has no in-process trainer (it runs command jobs only)", Assert.IsType<AttemptFailed>(result).Reason);
    }
}
