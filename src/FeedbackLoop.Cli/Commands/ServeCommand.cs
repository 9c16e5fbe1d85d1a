using System.CommandLine;
using System.Globalization;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop serve --role orchestrator|worker|all</c>: one process of the loop. The orchestrator triggers runs on
/// DatasetCommitted, keeps the durable store (runs, jobs, attempts, registry) and offers jobs; a worker runs them, one
/// per GPU. The roles meet on RabbitMQ when <c>FEEDBACKLOOP_RABBITMQ</c> is set (the password in
/// <c>FEEDBACKLOOP_RABBITMQ_PASSWORD</c>, never on the command line); without it only <c>--role all</c> makes sense, in
/// memory. Runs until SIGINT/SIGTERM; a worker stopped that way reports its running jobs as failed so they are retried.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Prefix of the stdout line printed once the process takes messages; scripts and tests wait for it.</summary>
    public const string ReadyLinePrefix = "ready ";

    private const int MaxGpus = 64;

    public static Command Create()
    {
        var role = new Option<string>("--role")
        {
            Description = "orchestrator, worker, or all (both in one process).",
            DefaultValueFactory = _ => "all",
        };
        role.AcceptOnlyFromAmong("all", "orchestrator", "worker");
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Data folder: datasets/ (read), models/ and registry.db (orchestrator); the default worker folder is <data>/worker.",
            DefaultValueFactory = _ => new DirectoryInfo("feedbackloop-data"),
        };
        var pipeline = new Option<FileInfo?>("--pipeline") { Description = "Pipelines file (YAML); built-in defaults when absent." };
        var registry = new Option<FileInfo?>("--registry")
        {
            Description = "Orchestrator: the SQLite store of runs, jobs and models (default <data>/registry.db). Keep it on a local disk: SQLite's WAL mode does not work over a network filesystem.",
        };
        var gpus = new Option<int>("--gpus") { Description = $"Worker: GPUs to use, one job per GPU (0..{MaxGpus}); 0 = one CPU slot.", DefaultValueFactory = _ => 0 };
        var workerId = new Option<string?>("--worker-id") { Description = "Worker: its id (default <host>-<pid>)." };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Worker: private folder for logs and job folders (default <data>/worker)." };
        var heartbeat = new Option<string>("--heartbeat") { Description = "Worker: heartbeat interval while a job runs.", DefaultValueFactory = _ => "10s" };
        var claimTimeout = new Option<string>("--claim-timeout") { Description = "Worker: a claim unanswered this long frees its slot.", DefaultValueFactory = _ => "60s" };
        var sweep = new Option<string>("--sweep") { Description = "Orchestrator: how often due offers, silent workers and cancel requests are handled.", DefaultValueFactory = _ => "1s" };
        var offerAgain = new Option<string>("--offer-again") { Description = "Orchestrator: an offer nobody claimed is sent again after this long.", DefaultValueFactory = _ => "5m" };
        var pollDatasets = new Option<string>("--poll-datasets")
        {
            Description = "Orchestrator: also check every app's datasets for new pairs this often (off to rely on the extractors' DatasetCommitted alone).",
            DefaultValueFactory = _ => "30s",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log every offer, claim, grant and attempt." };

        var command = new Command("serve", "Run the loop's orchestrator, a worker, or both, until Ctrl+C or SIGTERM.")
        {
            role, data, pipeline, registry, gpus, workerId, workDir, heartbeat, claimTimeout, sweep, offerAgain, pollDatasets, verbose,
        };
        command.SetAction((parse, ct) => RunAsync(new ServeSettings(
            parse.GetValue(role)!, parse.GetValue(data)!, parse.GetValue(pipeline), parse.GetValue(registry), parse.GetValue(gpus), parse.GetValue(workerId),
            parse.GetValue(workDir), parse.GetValue(heartbeat)!, parse.GetValue(claimTimeout)!, parse.GetValue(sweep)!, parse.GetValue(offerAgain)!,
            parse.GetValue(pollDatasets)!, parse.GetValue(verbose)), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(ServeSettings settings, TextWriter output, TextWriter error, CancellationToken stopping)
    {
        // Signals become a graceful stop before anything is printed (see GracefulStop for the window this closes).
        using var stop = new GracefulStop(stopping);

        LoopHost host;
        LoopTransport transport;
        TimeSpan? poll;
        try
        {
            transport = LoopTransport.FromEnvironment();
            host = Host(settings);
            poll = settings.PollDatasets == "off" ? null : Duration(settings.PollDatasets, "--poll-datasets");
            if (transport.Broker is null && host.Roles != LoopRoles.All)
            {
                throw new ArgumentException(
                    $"--role {settings.Role} needs a broker to meet the other roles: set {RabbitMqSettings.UriVariable}=amqp://user@host:5672/vhost "
                    + $"(and {RabbitMqSettings.PasswordVariable}), or run --role all in memory.");
            }
        }
        catch (FormatException e)
        {
            await error.WriteLineAsync($"{RabbitMqSettings.UriVariable}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (ArgumentException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (Pipelines.PipelineException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        using var logging = CliLogging.Create(settings.Verbose);
        var services = new ServiceCollection()
            .AddSingleton(logging)
            .AddLogging()
            .AddLoopServices(host);
        services.AddMassTransit(bus =>
        {
            bus.AddLoopConsumers();
            bus.UsingLoopTransport(transport, (context, cfg) => cfg.ConfigureLoopEndpoints(context));
        });
        await using var provider = services.BuildServiceProvider();
        var busControl = provider.GetRequiredService<IBusControl>();
        try
        {
            await busControl.StartLoopBusAsync(transport, stop.Token).ConfigureAwait(false);
        }
        catch (LoopTransportException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 1;
        }

        try
        {
            await provider.LoopReadyAsync(stop.Token).ConfigureAwait(false);
            var polling = host.Roles.HasFlag(LoopRoles.Orchestrator) && poll is { } every
                ? PollDatasetsAsync(busControl, settings.Data.FullName, every, error, stop.Token)
                : Task.CompletedTask;

            // The first stdout line is the machine-readable contract.
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{ReadyLinePrefix}role={settings.Role} worker={(host.Roles.HasFlag(LoopRoles.Worker) ? host.Worker.WorkerId : "-")} slots={host.Worker.Slots} transport={transport}")).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await Task.Delay(Timeout.InfiniteTimeSpan, stop.Token).ConfigureAwait(false);
            await polling.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsStopRequested)
        {
            // The normal way out.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The worker could not start (its folder, or the broker refused its queues): a message, not a stack trace.
            await error.WriteLineAsync($"the worker could not start: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await busControl.StopAsync(limit.Token).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>
    /// Announces every app's datasets to the orchestrator's own trigger every <paramref name="every"/>: the same check the
    /// extractors' DatasetCommitted starts (idempotent: a run starts only when enough new pairs arrived), so a run is
    /// never missed because no extractor announced its commit on this broker.
    /// </summary>
    private static async Task PollDatasetsAsync(IBus bus, string data, TimeSpan every, TextWriter error, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    foreach (var app in DatasetPaths.Apps(data))
                    {
                        await bus.Publish(new DatasetCommitted(app, 0), stopping).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await error.WriteLineAsync($"dataset poll failed (next one in {Durations.Format(every)}): {e.Message}").ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>The process's parts from the options; an <see cref="ArgumentException"/> says which option is wrong.</summary>
    private static LoopHost Host(ServeSettings settings)
    {
        var roles = settings.Role switch
        {
            "orchestrator" => LoopRoles.Orchestrator,
            "worker" => LoopRoles.Worker,
            _ => LoopRoles.All,
        };
        if (settings.Gpus is < 0 or > MaxGpus)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--gpus {settings.Gpus} is out of range: pass 0 (one CPU slot) to {MaxGpus}."));
        }

        var data = settings.Data.FullName;
        var orchestrator = roles.HasFlag(LoopRoles.Orchestrator);
        var pipeline = settings.Pipeline is null
            ? new PipelineDefinition("built-in pipeline", AppPipeline.Builtin, new Dictionary<string, AppPipeline>())
            : PipelineLoader.Load(settings.Pipeline.FullName);
        var snapshots = new DatasetSnapshots(data);
        return new LoopHost
        {
            Roles = roles,
            Registry = orchestrator ? new ModelRegistry(settings.Registry?.FullName ?? Path.Combine(data, "registry.db")) : null,
            Pipeline = pipeline,
            Paths = new LoopPaths(Path.Combine(data, "models")),
            Snapshots = snapshots,
            Orchestrator = new OrchestratorOptions
            {
                SweepInterval = Duration(settings.Sweep, "--sweep"),
                OfferAgainAfter = Duration(settings.OfferAgain, "--offer-again"),
            },
            Worker = new WorkerOptions
            {
                WorkerId = settings.WorkerId ?? new WorkerOptions().WorkerId,
                Gpus = settings.Gpus,
                GpuIds = GpuIds(settings.Gpus),
                WorkDirectory = settings.WorkDirectory?.FullName ?? Path.Combine(data, "worker"),
                HeartbeatInterval = Duration(settings.Heartbeat, "--heartbeat"),
                ClaimTimeout = Duration(settings.ClaimTimeout, "--claim-timeout"),
            },
            Trainers = new InProcessTrainers(snapshots, new MlNetRewardTrainer(), new MlNetPairwiseEvaluator()),
        };
    }

    /// <summary>
    /// The GPUs the slots use: the worker's own <c>CUDA_VISIBLE_DEVICES</c> when it is set (a node shared with other
    /// work), else 0 … gpus−1. More slots than listed devices is an error, not a silent overlap.
    /// </summary>
    private static string[]? GpuIds(int gpus)
    {
        if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is not { Length: > 0 } visible || gpus == 0)
        {
            return null;
        }

        var ids = visible.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return gpus <= ids.Length
            ? ids[..gpus]
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--gpus {gpus} is more than the {ids.Length} device(s) in CUDA_VISIBLE_DEVICES={visible}: one job per GPU."));
    }

    private static TimeSpan Duration(string text, string option) =>
        Durations.TryParse(text, out var duration) && duration > TimeSpan.Zero
            ? duration
            : throw new ArgumentException($"{option} {text}: expected a duration above 0 such as 500ms, 10s, 5m or 1h.");

    private sealed record ServeSettings(
        string Role, DirectoryInfo Data, FileInfo? Pipeline, FileInfo? Registry, int Gpus, string? WorkerId, DirectoryInfo? WorkDirectory,
        string Heartbeat, string ClaimTimeout, string Sweep, string OfferAgain, string PollDatasets, bool Verbose);
}
