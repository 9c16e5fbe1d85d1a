using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// A loop whose trainer and evaluator are the stand-in script (tests/assets/fake-trainer.sh) run as real processes by
/// real workers, over MassTransit's in-memory transport: the data folder with committed pairs, the SQLite store, the
/// marker files that script the trainer, and the pipeline with short limits so retries and expiries happen in seconds.
/// </summary>
internal sealed class JobLoop : IAsyncDisposable
{
    public const string AppId = "demo";

    public static readonly string Script = Path.Combine(AppContext.BaseDirectory, "fake-trainer.sh");

    private readonly TempFolder _folder = new("jobs");
    private readonly DatasetStore _store;
    private ServiceProvider? _provider;
    private int _pairs;

    public JobLoop()
    {
        Markers = Directory.CreateDirectory(Path.Combine(Root, "markers")).FullName;
        Registry = new ModelRegistry(Path.Combine(Root, "registry.db"));
        Jobs = new JobStore(Registry.DatabasePath);
        _store = new DatasetStore(Root);
    }

    public string Root => _folder.Path;

    /// <summary>The folder of the stand-in trainer's marker files.</summary>
    public string Markers { get; }

    public ModelRegistry Registry { get; }

    public JobStore Jobs { get; }

    public ITestHarness Harness => _provider!.GetRequiredService<ITestHarness>();

    /// <summary>The started loop's services.</summary>
    public IServiceProvider Services => _provider ?? throw new InvalidOperationException("the loop has not started");

    /// <summary>The app's pipeline: the stand-in as trainer and evaluator, 200 ms retry backoff, 10 s heartbeat timeout (workers beat every 100 ms: 100 missed beats; 3 s still let a loaded CI machine expire live attempts until a run ran out of attempts).</summary>
    public static AppPipeline Pipeline(
        string markers, bool requireSignoff = false, int maxAttempts = 3, TimeSpan? trainerTimeout = null, IReadOnlyList<CommandTemplate>? checks = null,
        TimeSpan? heartbeatTimeout = null) =>
        AppPipeline.Builtin with
        {
            Retrain = new RetrainSettings(60),
            Split = new SplitSettings(0.25),
            Trainer = TrainerSettings.DefaultsFor(TrainerSettings.CommandKind) with
            {
                Command = CommandTemplate.FromArguments(["/bin/sh", Script, "tune", "--data", "{train}", "--output", "{output}", "--markers", markers, "--params", "{params}"]),
                ParamsJson = """{"beta":0.1}""",
                Timeout = trainerTimeout ?? TimeSpan.FromMinutes(2),
            },
            Eval = EvalSettings.Builtin with
            {
                Command = CommandTemplate.FromArguments(["/bin/sh", Script, "eval", "--data", "{eval}", "--model", "{model}", "--output", "{output}", "--markers", markers]),
                ExtraCommands = checks ?? [],
            },
            Jobs = new JobSettings(maxAttempts, TimeSpan.FromMilliseconds(200), heartbeatTimeout ?? TimeSpan.FromSeconds(10)),
            Gate = new GateSettings(0.02, requireSignoff),
        };

    /// <summary>
    /// Starts the bus with the given roles; the worker (w1) gets <paramref name="slots"/> slots. The pipeline registers
    /// <see cref="AppId"/> and <paramref name="otherApps"/> with <paramref name="app"/>'s settings; no other app trains.
    /// </summary>
    public async Task StartAsync(AppPipeline app, LoopRoles roles = LoopRoles.All, int slots = 1, TimeSpan? claimTimeout = null, IReadOnlyList<string>? otherApps = null)
    {
        var host = new LoopHost
        {
            Roles = roles,
            Registry = Registry,
            Pipeline = new PipelineDefinition("job-test", app, new[] { AppId }.Concat(otherApps ?? []).ToDictionary(id => id, _ => app)),
            Paths = new LoopPaths(Path.Combine(Root, "models")),
            Snapshots = new DatasetSnapshots(Root),
            Orchestrator = new OrchestratorOptions
            {
                SweepInterval = TimeSpan.FromMilliseconds(100),
                OfferAgainAfter = TimeSpan.FromSeconds(30),
                StopAgainAfter = TimeSpan.FromSeconds(1),
            },
            Worker = WorkerOptions("w1", slots) with { ClaimTimeout = claimTimeout ?? TimeSpan.FromSeconds(20) },
        };
        _provider = new ServiceCollection()
            .AddLogging()
            .AddLoopServices(host)
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddLoopConsumers();
                bus.UsingInMemory((context, cfg) => cfg.ConfigureLoopEndpoints(context));
            })
            .BuildServiceProvider(true);
        Harness.TestTimeout = TimeSpan.FromSeconds(60);
        await Harness.Start();
        await _provider.LoopReadyAsync();
    }

    public WorkerOptions WorkerOptions(string id, int slots = 1) => new()
    {
        WorkerId = id,
        Gpus = slots == 1 ? 0 : slots,
        WorkDirectory = Path.Combine(Root, "worker-" + id),
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        ClaimTimeout = TimeSpan.FromSeconds(20),
        // A test that ends mid-job should not wait out a production drain.
        DrainTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>The offer signed as this loop's orchestrator signs it (the key is the process's own in memory).</summary>
    public JobOffered Sign(JobOffered offer) => Services.GetRequiredService<JobSigner>().Sign(offer);

    /// <summary>Another worker on the same bus, as a second machine would be.</summary>
    public async Task<JobWorker> StartWorkerAsync(string id)
    {
        var options = WorkerOptions(id);
        // A command-only worker with the data folder, as `serve --role worker` has: it writes a reviewed snapshot's file.
        var worker = new JobWorker(options, new JobExecutor(options, trainers: null, new DatasetSnapshots(Root)), Services.GetRequiredService<JobSigner>(),
            Services.GetRequiredService<OrchestrationTelemetry>(), TimeProvider.System, NullLogger<JobWorker>.Instance);
        await worker.StartAsync(Harness.Bus, CancellationToken.None);
        return worker;
    }

    public void Marker(string name, string content = "") => File.WriteAllText(Path.Combine(Markers, name), content);

    public void RemoveMarker(string name) => File.Delete(Path.Combine(Markers, name));

    /// <summary>The stand-in's starts so far: mode and process id.</summary>
    public IReadOnlyList<(string Mode, int Pid)> Starts()
    {
        var log = Path.Combine(Markers, "starts.log");
        return File.Exists(log)
            ? File.ReadAllLines(log).Select(l => l.Split(' ')).Select(p => (p[0], int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture))).ToList()
            : [];
    }

    /// <summary>Writes pairs and tells the orchestrator, as the extractors would.</summary>
    public async Task CommitAsync(int count, string appId = AppId)
    {
        var output = new ExtractionOutput();
        for (var i = 0; i < count; i++)
        {
            var n = Interlocked.Increment(ref _pairs);
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"jc{n}", $"jr{n}"), appId, [new ConversationTurn("user", $"Question {n}?")],
                new ConversationTurn("assistant", $"Answer {n}, with an example."), new ConversationTurn("assistant", $"Well, {n} depends."),
                "comparison", 1.0, $"jc{n}", $"jr{n}", "m1", "m1", $"js{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }

        await _store.WriteAsync(output);
        await Harness.Bus.Publish(new Contracts.Bus.DatasetCommitted(appId, count));
    }

    /// <summary>Waits for the app's first run to start, and returns its id.</summary>
    public async Task<string> RunStartedAsync(string appId = AppId)
    {
        Assert.True(await Eventually.TrueAsync(() => Registry.ListRuns(appId).Count > 0, TimeSpan.FromSeconds(30)), "no run started");
        return Registry.ListRuns(appId)[0].RunId;
    }

    public async Task<RunRecord> RunEndedAsync(int count = 1, string appId = AppId, double seconds = 60)
    {
        Assert.True(await Eventually.TrueAsync(() => Registry.ListRuns(appId).Count(r => r.Status != RunStatus.Running) >= count, TimeSpan.FromSeconds(seconds)),
            $"{count} run(s) did not end; runs: {string.Join("; ", Registry.ListRuns(appId).Select(r => $"{r.RunId} {r.Status}"))}; jobs: {Describe()}");
        return Registry.ListRuns(appId).Where(r => r.Status != RunStatus.Running).OrderBy(r => r.StartedAt).ElementAt(count - 1);
    }

    /// <summary>Waits until the job's current attempt runs (granted, its process started).</summary>
    public async Task RunningAsync(string jobId, int attempt = 1)
    {
        Assert.True(await Eventually.TrueAsync(
            () => Jobs.Get(jobId) is { State: JobState.Running } job && job.Attempt == attempt && Starts().Count(s => s.Mode == "tune") >= attempt,
            TimeSpan.FromSeconds(30)), $"attempt {attempt} of {jobId} did not start; jobs: {Describe()}");
    }

    public string Describe() => string.Join("; ", Jobs.List().Select(j =>
        $"{j.JobId} {JobRules.Text(j.State)} #{j.Attempt} [{string.Join(", ", Jobs.Attempts(j.JobId).Select(a => $"{JobRules.Text(a.State)} {a.WorkerId} {a.Reason}"))}]"));

    public async ValueTask DisposeAsync()
    {
        RemoveMarker("hold");
        if (_provider is not null)
        {
            await Harness.Stop();
            await _provider.DisposeAsync();
        }

        _folder.Dispose();
    }
}
