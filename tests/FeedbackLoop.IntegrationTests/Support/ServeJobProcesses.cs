using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// The loop as separate processes over a real RabbitMQ: <c>feedbackloop serve --role orchestrator</c> and
/// <c>serve --role worker</c> started from the built CLI, one shared data folder (datasets, models, the SQLite store),
/// a pipelines file whose trainer and evaluator are the stand-in script, and the test as the extractor that commits
/// pairs and says so on the bus. Given a store location (a private PostgreSQL database), the store is there instead. The test reads the store directly, as <c>feedbackloop jobs</c> does.
/// </summary>
internal sealed class ServeJobProcesses : IAsyncDisposable
{
    public const string AppId = "demo";

    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(60);

    private readonly RabbitMqSettings _broker;
    private readonly List<ServeProcess> _processes = [];
    private readonly TempFolder _folder = new("serve");
    private readonly DatasetStore _store;
    private int _pairs;

    public ServeJobProcesses(RabbitMqSettings broker, TimeSpan? trainerTimeout = null, string pool = JobPools.Default, string? store = null)
    {
        _broker = broker;
        Data = Directory.CreateDirectory(Path.Combine(Root, "data")).FullName;
        Markers = Directory.CreateDirectory(Path.Combine(Root, "markers")).FullName;
        PipelineFile = Path.Combine(Root, "pipeline.yaml");
        File.WriteAllText(PipelineFile, PipelineYaml(Markers, trainerTimeout ?? TimeSpan.FromMinutes(2), pool));
        Registry = new ModelRegistry(store ?? Path.Combine(Data, "registry.db"));
        Jobs = new JobStore(Registry.DatabasePath);
        _store = new DatasetStore(Data);
    }

    public string Root => _folder.Path;

    public string Data { get; }

    public string Markers { get; }

    public string PipelineFile { get; }

    public ModelRegistry Registry { get; }

    public JobStore Jobs { get; }

    public static string CliAssembly
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "feedbackloop.dll");
            Assert.True(File.Exists(path), $"{path} is missing: build tests/FeedbackLoop.IntegrationTests, which references the CLI.");
            return path;
        }
    }

    /// <summary>The broker the processes meet on.</summary>
    public RabbitMqSettings Broker => _broker;

    private static string PipelineYaml(string markers, TimeSpan trainerTimeout, string pool) =>
        string.Create(CultureInfo.InvariantCulture, $$"""
        defaults:
          retrain: {min_new_pairs: 60}
          split: {eval_fraction: 0.25}
          trainer:
            kind: command
            command: [/bin/sh, "{{JobLoop.Script}}", tune, --data, "{train}", --output, "{output}", --markers, "{{markers}}"]
            timeout: {{trainerTimeout.TotalMilliseconds}}ms
            pool: {{pool}}
          eval:
            command: [/bin/sh, "{{JobLoop.Script}}", eval, --data, "{eval}", --model, "{model}", --output, "{output}", --markers, "{{markers}}"]
          jobs:
            max_attempts: 3
            retry_backoff: 200ms
            heartbeat_timeout: 2s
          gate: {margin: 0.02}
        apps:
          {{AppId}}:
        """);

    /// <summary>Starts <c>serve --role orchestrator</c>; it checks the datasets itself only when <paramref name="pollDatasets"/> is given.</summary>
    public Task<ServeProcess> StartOrchestratorAsync(string pollDatasets = "off", string offerAgain = "30s", string name = "orchestrator") =>
        StartAsync(name, "orchestrator", "--store", Registry.DatabasePath, "--sweep", "200ms", "--offer-again", offerAgain, "--poll-datasets", pollDatasets);

    /// <summary>
    /// Starts a second <c>serve --role orchestrator</c> on the same store and returns once it says it waits as the standby
    /// (it prints its ready line only when it takes over: <see cref="ServeProcess.WaitReadyAsync"/>).
    /// </summary>
    public async Task<ServeProcess> StartStandbyAsync(string name)
    {
        var process = await StartAsync(name, "orchestrator", waitReady: false, "--store", Registry.DatabasePath, "--sweep", "200ms",
            "--offer-again", "30s", "--poll-datasets", "off");
        Assert.True(await Eventually.TrueAsync(() => process.Output.Contains("standby orchestrator", StringComparison.Ordinal), ReadyDeadline),
            $"{name} did not say it waits as the standby:\n{process.Output}");
        return process;
    }

    public Task<ServeProcess> StartWorkerAsync(string workerId, string pool = JobPools.Default, string drainTimeout = "60s") =>
        StartAsync(workerId, "worker", "--worker-id", workerId, "--gpus", "0", "--heartbeat", "200ms", "--claim-timeout", "20s",
            "--work-dir", WorkDirectoryOf(workerId), "--pool", pool, "--drain-timeout", drainTimeout);

    /// <summary>A worker's private folder (its attempt logs are under <c>logs/</c>).</summary>
    public string WorkDirectoryOf(string workerId) => Path.Combine(Root, "worker-" + workerId);

    private Task<ServeProcess> StartAsync(string name, string role, params string[] options) => StartAsync(name, role, waitReady: true, options);

    private async Task<ServeProcess> StartAsync(string name, string role, bool waitReady, params string[] options)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[CliAssembly, "serve", "--role", role, "--data", Data, "--pipeline", PipelineFile, "--verbose", .. options])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in RabbitMqBroker.EnvironmentFor(_broker))
        {
            start.Environment[variable] = value;
        }

        var process = new ServeProcess(name, System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
        _processes.Add(process);
        if (waitReady)
        {
            await process.WaitReadyAsync(ReadyDeadline);
        }

        return process;
    }

    /// <summary>Runs a one-shot CLI command (e.g. <c>jobs cancel</c>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> CliAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // In memory unless a test says otherwise, whatever the environment of the test run.
        start.Environment.Remove(RabbitMqSettings.UriVariable);
        start.Environment.Remove(RabbitMqSettings.PasswordVariable);
        start.ArgumentList.Add(CliAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Writes pairs and (unless <paramref name="announce"/> is false) announces them on the broker, as the extractors do.</summary>
    public async Task CommitAsync(int count, bool announce = true)
    {
        var output = new ExtractionOutput();
        for (var i = 0; i < count; i++)
        {
            var n = Interlocked.Increment(ref _pairs);
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"sc{n}", $"sr{n}"), AppId, [new ConversationTurn("user", $"Question {n}?")],
                new ConversationTurn("assistant", $"Answer {n}, with an example."), new ConversationTurn("assistant", $"Well, {n} depends."),
                "comparison", 1.0, $"sc{n}", $"sr{n}", "m1", "m1", $"ss{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }

        await _store.WriteAsync(output);
        if (!announce)
        {
            return;
        }

        var transport = LoopTransport.RabbitMq(_broker);
        var services = new ServiceCollection().AddLogging().AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, _) => { }));
        await using var publisher = await RunningBus.StartAsync(services, transport);
        // Publisher confirms: this returns once the broker has it (the orchestrator's queue is bound by then).
        await publisher.Bus.Publish(new DatasetCommitted(AppId, count));
    }

    public void Marker(string name) => File.WriteAllText(Path.Combine(Markers, name), "");

    public void RemoveMarker(string name) => File.Delete(Path.Combine(Markers, name));

    /// <summary>The stand-in's starts: mode and process id.</summary>
    public IReadOnlyList<(string Mode, int Pid)> Starts()
    {
        var log = Path.Combine(Markers, "starts.log");
        return File.Exists(log)
            ? File.ReadAllLines(log).Select(l => l.Split(' ')).Select(p => (p[0], int.Parse(p[1], CultureInfo.InvariantCulture))).ToList()
            : [];
    }

    public async Task<string> RunStartedAsync()
    {
        Assert.True(await Eventually.TrueAsync(() => Registry.ListRuns(AppId).Count > 0, TimeSpan.FromSeconds(60)), $"no run started; {Logs()}");
        return Registry.ListRuns(AppId)[0].RunId;
    }

    /// <summary>Waits until attempt <paramref name="attempt"/> of the job runs on a worker and its process has started.</summary>
    public async Task<AttemptRecord> RunningAsync(string jobId, int attempt = 1)
    {
        Assert.True(await Eventually.TrueAsync(
            () => Jobs.Get(jobId) is { State: JobState.Running } job && job.Attempt == attempt && Starts().Count(s => s.Mode == "tune") >= attempt,
            TimeSpan.FromSeconds(60)), $"attempt {attempt} of {jobId} did not start; {Describe()}; {Logs()}");
        return Jobs.Attempts(jobId)[attempt - 1];
    }

    public async Task<RunRecord> RunEndedAsync(double seconds = 90)
    {
        Assert.True(await Eventually.TrueAsync(() => Registry.ListRuns(AppId).Any(r => r.Status != RunStatus.Running), TimeSpan.FromSeconds(seconds)),
            $"the run did not end; {Describe()}; {Logs()}");
        return Registry.ListRuns(AppId).Single();
    }

    public ServeProcess ProcessNamed(string name) => _processes.Last(p => p.Name == name);

    public string Describe() => "jobs: " + string.Join("; ", Jobs.List().Select(j =>
        $"{j.JobId} {JobRules.Text(j.State)} #{j.Attempt} [{string.Join(", ", Jobs.Attempts(j.JobId).Select(a => $"{JobRules.Text(a.State)} {a.WorkerId} {a.Reason}"))}]"));

    public string Logs() => string.Join("\n", _processes.Select(p => $"--- {p.Name} (exited: {p.HasExited}) ---\n{p.Output}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        RemoveMarker("hold");
        _folder.Dispose();
    }

    // dotnet test exports the host it runs under; fall back to the one on PATH.
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}

/// <summary>One <c>feedbackloop serve</c> process: its output kept for failure messages, killed or stopped on demand.</summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServeProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        // Drained continuously so a chatty process never blocks on a full pipe.
        _process.OutputDataReceived += (_, e) =>
        {
            Append(e.Data);
            if (e.Data?.StartsWith(ServeCommand.ReadyLinePrefix, StringComparison.Ordinal) == true)
            {
                _ready.TrySetResult(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{name} exited before it was ready:\n{Output}"));
        _process.EnableRaisingEvents = true;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    /// <summary>The process id (an orchestrator's lease holder is <c>host-pid</c>).</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task WaitReadyAsync(TimeSpan deadline)
    {
        try
        {
            await _ready.Task.WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} printed no ready line within {deadline.TotalSeconds:0} s:\n{Output}");
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as when a machine dies or the OOM killer strikes.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, then waits for the graceful exit.</summary>
    public async Task<int> StopAsync()
    {
        Terminate();

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(deadline.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, without waiting.</summary>
    public void Terminate()
    {
        if (!_process.HasExited)
        {
            _ = Libc.Kill(_process.Id, Libc.Sigterm);
        }
    }

    /// <summary>Waits for the exit (after <see cref="Terminate"/>) and returns its code.</summary>
    public async Task<int> ExitCodeAsync(TimeSpan deadline)
    {
        using var limit = new CancellationTokenSource(deadline);
        await _process.WaitForExitAsync(limit.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static class Libc
    {
        public const int Sigterm = 15;

        // DllImport, not LibraryImport: the source generator needs AllowUnsafeBlocks, which this project does not set.
#pragma warning disable SYSLIB1054 // Use LibraryImport: see above.
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int sig);
#pragma warning restore SYSLIB1054
    }
}
