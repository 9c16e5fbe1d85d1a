using System.Globalization;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Transport;
using Microsoft.Data.Sqlite;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Secrets stay home, through the real path: <c>feedbackloop serve</c> as a process with secrets in its environment,
/// its worker running real trainer processes, <c>jobs logs</c> as a process; then the modes of the files the run left.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HardeningSecretsTests : IDisposable
{
    private const string AppId = "demo";
    private const UnixFileMode GroupAndOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly TimeSpan RunDeadline = TimeSpan.FromSeconds(120);

    private readonly TempFolder _root = new("secrets");
    private readonly string _secret = "s3cr/et@" + Guid.NewGuid().ToString("N");

    private string Data => _root.Combine("data");

    private string Store => _root.Combine("store", "registry.db");

    public void Dispose() => _root.Dispose();

    /// <summary>
    /// Stands in for a trainer and an evaluator: prints its whole environment into the job's log, then writes what a
    /// trainer writes (with the shell's default modes: the worker must tighten them).
    /// </summary>
    private const string EnvTrainer = """
        #!/bin/sh
        mode=$1; out=$2
        echo "== environment of the $mode"
        env | sort
        mkdir -p "$out/weights"
        if [ "$mode" = tune ]; then
          echo "vocabulary made of users' words" > "$out/weights/vocab.txt"
          echo '{"train_pairs": 60, "snapshot_files": 1}' > "$out/metrics.json"
        else
          echo '{"accuracy": 0.9, "standard_error": 0.01, "eval_pairs": 20, "snapshot_files": 1}' > "$out/metrics.json"
        fi
        """;

    [Fact]
    public async Task A_trainer_that_prints_env_shows_what_it_needs_and_none_of_the_workers_secrets_in_jobs_logs()
    {
        var script = _root.Combine("env-trainer.sh");
        await File.WriteAllTextAsync(script, EnvTrainer);
        var pipeline = _root.Combine("pipeline.yaml");
        await File.WriteAllTextAsync(pipeline, CommandPipeline(script));
        var hfHome = _root.Combine("hf-cache");
        var secrets = new Dictionary<string, string>
        {
            [RabbitMqSettings.PasswordVariable] = _secret,
            ["FEEDBACKLOOP_STORE_PASSWORD"] = _secret + "-store",
            ["FeedbackLoop__Otlp__Headers"] = "authorization=Bearer " + _secret + "-otlp",
            ["ConnectionStrings__Store"] = "Data Source=x;Password=" + _secret + "-cs",
            ["AWS_SECRET_ACCESS_KEY"] = _secret + "-aws",
            ["HF_TOKEN"] = _secret + "-hf",
        };
        var environment = new Dictionary<string, string>(secrets)
        {
            ["HF_HOME"] = hfHome,
            ["MY_TRAINER_SETTING"] = "passed-by-name",
        };
        await CommitAsync(60);

        using var serve = CliProcess.Start(environment,
            "serve", "--data", Data, "--store", Store, "--pipeline", pipeline, "--poll-datasets", "200ms", "--sweep", "200ms",
            "--pass-env", "MY_TRAINER_SETTING");
        await serve.FirstStdoutLineAsync(TimeSpan.FromSeconds(60));
        var run = await RunEndedAsync(serve);
        Assert.True(run.Status == RunStatus.Completed, $"run {run.Status}: {run.Reason}\n{serve.Output}");

        foreach (var job in (string[])[JobIds.Tune(run.RunId), JobIds.Eval(run.RunId)])
        {
            var (exit, log) = await ServeJobProcesses.CliAsync("jobs", "logs", job, "--registry", Store);
            Assert.True(exit == 0, $"jobs logs {job} exited {exit}: {log}");
            var lines = log.Split('\n', StringSplitOptions.TrimEntries);

            // What a trainer needs is there...
            Assert.Contains("== environment of the " + (job.EndsWith("-tune", StringComparison.Ordinal) ? "tune" : "eval"), lines);
            Assert.Contains("PATH=" + Environment.GetEnvironmentVariable("PATH"), lines);
            Assert.Contains("HF_HOME=" + hfHome, lines);
            Assert.Contains("MY_TRAINER_SETTING=passed-by-name", lines);
            Assert.Contains("FEEDBACKLOOP_JOB_ID=" + job, lines);
            Assert.Contains("FEEDBACKLOOP_ATTEMPT=1", lines);
            Assert.Contains("CUDA_VISIBLE_DEVICES=", lines);
            Assert.Contains("PYTHONUNBUFFERED=1", lines);

            // ...and no secret, by name or by value.
            foreach (var (name, value) in secrets)
            {
                Assert.DoesNotContain(name + "=", log, StringComparison.Ordinal);
                Assert.DoesNotContain(value, log, StringComparison.Ordinal);
            }

            Assert.DoesNotContain(_secret, log, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(_secret, serve.Output, StringComparison.Ordinal);
    }

    // The command trainer writes with the shell's umask (0644 files, 0755 folders); the in-process ML.NET trainer
    // writes the reward model itself.
    [Theory]
    [InlineData("command", new[] { "metrics.json", "vocab.txt", "eval-report.json" })]
    [InlineData("mlnet", new[] { "metrics.json", "model.zip", "reward-model.json", "eval-report.json" })]
    public async Task After_a_run_the_store_models_and_job_files_are_owner_only_and_no_dataset_is_open_to_others(string trainer, string[] modelFiles)
    {
        var script = _root.Combine("env-trainer.sh");
        await File.WriteAllTextAsync(script, EnvTrainer);
        var pipeline = _root.Combine("pipeline.yaml");
        await File.WriteAllTextAsync(pipeline, trainer == "command" ? CommandPipeline(script) : InProcessPipeline);
        // As an older version (or a hand) left them: a store and a models folder readable by everyone.
        Directory.CreateDirectory(Path.GetDirectoryName(Store)!);
        File.WriteAllBytes(Store, []);
        File.SetUnixFileMode(Store, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Directory.CreateDirectory(Path.Combine(Data, "models"));
        File.SetUnixFileMode(Path.Combine(Data, "models"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        await CommitAsync(60);

        using var serve = CliProcess.Start("serve", "--data", Data, "--store", Store, "--pipeline", pipeline, "--poll-datasets", "200ms", "--sweep", "200ms");
        await serve.FirstStdoutLineAsync(TimeSpan.FromSeconds(60));
        var run = await RunEndedAsync(serve);
        Assert.True(run.Status == RunStatus.Completed, $"run {run.Status}: {run.Reason}\n{serve.Output}");

        // The store, with the -wal and -shm SQLite keeps beside it while a connection is open (SQLite gives them the
        // database's mode; one held open here makes sure both exist, whatever serve's own connections do).
        using (var reader = new SqliteConnection($"Data Source={Store};Pooling=False"))
        {
            reader.Open();
            using var query = reader.CreateCommand();
            query.CommandText = "SELECT count(*) FROM sqlite_master";
            Assert.True(Convert.ToInt64(query.ExecuteScalar(), CultureInfo.InvariantCulture) > 0);
            foreach (var file in (string[])[Store, Store + "-wal", Store + "-shm"])
            {
                Assert.True(File.Exists(file), $"{file} is missing while a connection is open");
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }

        // models/: every folder 0700, every file without group or other access (a trainer's 0644 was tightened).
        var models = Path.Combine(Data, "models");
        AssertOwnerOnlyTree(models, modelFiles);

        // The worker's folder: logs and job folders.
        var worker = Path.Combine(Data, "worker");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(worker));
        var logs = Directory.GetFiles(worker, "*.log", SearchOption.AllDirectories);
        Assert.NotEmpty(logs);
        Assert.All(logs, log => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(log)));

        // Datasets are shared with the owner's group (data teams) by design; nobody else can enter them or write them.
        var datasets = Path.Combine(Data, "datasets");
        foreach (var entry in Directory.EnumerateFileSystemEntries(datasets, "*", SearchOption.AllDirectories).Append(datasets))
        {
            var mode = File.GetUnixFileMode(entry);
            Assert.False((mode & (UnixFileMode.OtherWrite | UnixFileMode.GroupWrite)) != 0, $"{entry} is {mode}");
            if (Directory.Exists(entry))
            {
                Assert.False((mode & (UnixFileMode.OtherRead | UnixFileMode.OtherExecute)) != 0, $"{entry} is {mode}: others could enter it");
            }
        }
    }

    [Fact]
    public async Task A_broker_uri_with_a_password_serve_cannot_read_is_refused_naming_the_variable_and_never_the_password()
    {
        var environment = new Dictionary<string, string> { [RabbitMqSettings.UriVariable] = $"amqp://loop:{_secret}@mq.internal:5672/feedback" };

        using var serve = CliProcess.Start(environment, "serve", "--role", "worker", "--data", Data);
        var exit = await serve.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exit);
        Assert.Contains(RabbitMqSettings.UriVariable + ": ", serve.Output, StringComparison.Ordinal);
        foreach (var part in _secret.Split('/', '@').Append("mq.internal"))
        {
            Assert.DoesNotContain(part, serve.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("FEEDBACKLOOP_RABBITMQ_PASSWORD")]
    [InlineData("FEEDBACKLOOP_*")]
    [InlineData("*")]
    public async Task Serve_refuses_to_pass_the_loops_own_variables_to_jobs(string name)
    {
        using var serve = CliProcess.Start("serve", "--data", Data, "--store", Store, "--pass-env", name);
        var exit = await serve.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exit);
        Assert.Contains("--pass-env: ", serve.Output, StringComparison.Ordinal);
    }

    private static string CommandPipeline(string script) => $$"""
        defaults:
          retrain: {min_new_pairs: 60}
          split: {eval_fraction: 0.25}
          trainer:
            kind: command
            command: [/bin/sh, "{{script}}", tune, "{output}"]
            timeout: 60s
          eval:
            command: [/bin/sh, "{{script}}", eval, "{output}"]
          jobs: {max_attempts: 1, retry_backoff: 200ms, heartbeat_timeout: 30s}
          gate: {margin: 0.02}
        apps:
          {{AppId}}:
            gate: {margin: 0.02}
        """;

    private const string InProcessPipeline = $$"""
        defaults:
          retrain: {min_new_pairs: 60}
          split: {eval_fraction: 0.25}
          jobs: {max_attempts: 1, retry_backoff: 200ms, heartbeat_timeout: 30s}
        apps:
          {{AppId}}:
            gate: {margin: 0.02}
        """;

    /// <summary>Writes committed pairs into the data folder, as the extractor does; serve's dataset poll starts the run.</summary>
    private async Task CommitAsync(int count)
    {
        var output = new ExtractionOutput();
        for (var n = 1; n <= count; n++)
        {
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"kc{n}", $"kr{n}"), AppId, [new ConversationTurn("user", $"Question {n}?")],
                new ConversationTurn("assistant", $"Answer {n}, with an example."), new ConversationTurn("assistant", $"Well, {n} depends."),
                "comparison", 1.0, $"kc{n}", $"kr{n}", "m1", "m1", $"ks{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }

        await new DatasetStore(Data).WriteAsync(output);
    }

    private async Task<RunRecord> RunEndedAsync(CliProcess serve)
    {
        // Opened once serve has made the store, so the test never creates it (and never decides its mode).
        var registry = new ModelRegistry(Store);
        Assert.True(
            await Eventually.TrueAsync(() => registry.ListRuns(AppId).Any(r => r.Status != RunStatus.Running), RunDeadline),
            $"no run ended within {RunDeadline.TotalSeconds:0} s:\n{serve.Output}");
        return registry.ListRuns(AppId).Single();
    }

    private static void AssertOwnerOnlyTree(string root, IReadOnlyList<string> expectFiles)
    {
        const UnixFileMode ownerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(ownerOnlyFolder, File.GetUnixFileMode(root));
        var seen = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var mode = File.GetUnixFileMode(entry);
            if (Directory.Exists(entry))
            {
                Assert.True(mode == ownerOnlyFolder, string.Create(CultureInfo.InvariantCulture, $"{entry} is {mode}"));
            }
            else
            {
                Assert.True((mode & GroupAndOther) == 0, $"{entry} is {mode}");
                seen.Add(Path.GetFileName(entry));
            }
        }

        Assert.All(expectFiles, name => Assert.Contains(name, seen));
    }
}
