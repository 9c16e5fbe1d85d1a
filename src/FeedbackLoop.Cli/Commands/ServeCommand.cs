using System.CommandLine;
using System.Globalization;
using FeedbackLoop.Collector;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Training.Adapters;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
            Description = "orchestrator, worker, all (both in one process), collector (the HTTP collector: --bootstrap, --keys, --urls), or review (the review app: --data, --urls).",
            DefaultValueFactory = _ => "all",
        };
        role.AcceptOnlyFromAmong("all", "orchestrator", "worker", "collector", "review");
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = $"Shared data folder: datasets/ (read), models/ (orchestrator); the default worker folder is <data>/worker. Default: ${LoopLocations.DataVariable}, else {LoopLocations.DefaultData}.",
        };
        var pipeline = HostOptionsCli.Pipeline();
        var registry = new Option<string?>("--store", "--registry")
        {
            Description = $"Orchestrator: the store of runs, jobs and models: a SQLite file, or a PostgreSQL database as postgres://user@host:port/db (password from ${StoreLocation.PasswordVariable}, ${StoreLocation.PasswordFileVariable} or PGPASSWORD; several orchestrators may share one, one of them active). Collector: the same store, read for GET /v1/apps/{{app}}/model (no default; without it that route answers 503). Default: ${LoopLocations.StoreVariable}, else ~/.local/state/feedbackloop/registry.db. Keep a SQLite file on a local disk, not in the shared data folder: SQLite's WAL mode does not work over a network filesystem.",
        };
        var gpus = new Option<int>("--gpus") { Description = $"Worker: GPUs to use, one job per GPU (0..{MaxGpus}); 0 = one CPU slot.", DefaultValueFactory = _ => 0 };
        var workerId = new Option<string?>("--worker-id") { Description = "Worker: its id (default <host>-<pid>)." };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Worker: private folder for logs and job folders (default <data>/worker)." };
        var heartbeat = new Option<string>("--heartbeat") { Description = "Worker: heartbeat interval while a job runs.", DefaultValueFactory = _ => "10s" };
        var pool = new Option<string>("--pool")
        {
            Description = $"Worker: the pool it takes jobs of (a pipeline's trainer.pool / eval.pool), e.g. gpu or gpu-h100; {JobPools.Rule}.",
            DefaultValueFactory = _ => JobPools.Default,
        };
        var drainTimeout = new Option<string>("--drain-timeout")
        {
            Description = "Worker: on SIGTERM, how long running jobs may go on to finish (no new ones are taken); jobs still running then are stopped and offered again.",
            DefaultValueFactory = _ => "5m",
        };
        var claimTimeout = new Option<string>("--claim-timeout") { Description = "Worker: a claim unanswered this long frees its slot.", DefaultValueFactory = _ => "60s" };
        var sweep = new Option<string>("--sweep") { Description = "Orchestrator: how often due offers, silent workers and cancel requests are handled.", DefaultValueFactory = _ => "1s" };
        var offerAgain = new Option<string>("--offer-again") { Description = "Orchestrator: an offer nobody claimed is sent again after this long.", DefaultValueFactory = _ => "5m" };
        var pollDatasets = new Option<string>("--poll-datasets")
        {
            Description = "Orchestrator: also check every app's datasets for new pairs this often (off to rely on the extractors' DatasetCommitted alone).",
            DefaultValueFactory = _ => "30s",
        };
        var watchRollouts = new Option<string>("--watch-rollouts")
        {
            Description = "Orchestrator: look at every active canary rollout's engagement datasets this often and decide (promote, roll back or extend); off to leave rollouts to people.",
            DefaultValueFactory = _ => "30s",
        };
        var passEnv = new Option<string[]>("--pass-env")
        {
            Description = "Worker: also give jobs this variable of the worker's environment (NAME, or a prefix such as HF_*; repeatable). "
                + "Jobs see only an allowlist (PATH, HOME, locale, TMPDIR, CUDA_*, NVIDIA_*, NCCL_*, Hugging Face caches; see docs/DEPLOY.md) and never FEEDBACKLOOP_*.",
            AllowMultipleArgumentsPerToken = false,
        };
        var metricsPort = HostOptionsCli.MetricsPort();
        var verbose = new Option<bool>("--verbose") { Description = "Log every offer, claim, grant and attempt." };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Collector: Kafka bootstrap servers (host:port,...)." };
        var kafkaConfig = KafkaConfigCli.Option();
        kafkaConfig.Description = "Collector: " + kafkaConfig.Description;
        var keys = new Option<FileInfo?>("--keys") { Description = "Collector: the write keys file ('feedbackloop keys create')." };
        var urls = new Option<string>("--urls")
        {
            Description = $"Collector and review app: where to listen (port 0 picks a free one; the first stdout line says which). Default {CollectorServe.DefaultUrls}: loopback, behind a TLS-terminating proxy.",
            DefaultValueFactory = _ => CollectorServe.DefaultUrls,
        };

        var command = new Command("serve", "Run the loop's orchestrator, a worker, both, the HTTP collector or the review app, until Ctrl+C or SIGTERM.")
        {
            role, data, pipeline, registry, gpus, pool, drainTimeout, workerId, workDir, heartbeat, claimTimeout, sweep, offerAgain, pollDatasets, passEnv, metricsPort, verbose, bootstrap, kafkaConfig, keys, urls, watchRollouts,
        };
        command.SetAction((parse, ct) => parse.GetValue(role) == "review"
            ? RunReviewAsync(parse.GetValue(data), parse.GetValue(registry), parse.GetValue(urls)!, parse.GetValue(metricsPort), parse.GetValue(verbose), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct)
            : parse.GetValue(role) == "collector"
            ? RunCollectorAsync(parse.GetValue(bootstrap), parse.GetValue(kafkaConfig), parse.GetValue(keys), parse.GetValue(urls)!, parse.GetValue(metricsPort), parse.GetValue(verbose), parse.GetValue(registry), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct)
            : RunAsync(new ServeSettings(
            parse.GetValue(role)!, parse.GetValue(data), parse.GetValue(pipeline), parse.GetValue(registry), parse.GetValue(gpus), parse.GetValue(workerId),
            parse.GetValue(workDir), parse.GetValue(heartbeat)!, parse.GetValue(claimTimeout)!, parse.GetValue(sweep)!, parse.GetValue(offerAgain)!,
            parse.GetValue(pollDatasets)!, parse.GetValue(passEnv) ?? [], parse.GetValue(metricsPort), parse.GetValue(verbose), parse.GetValue(watchRollouts)!,
            parse.GetValue(pool)!, parse.GetValue(drainTimeout)!), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>The review app over the data folder; its models page reads the store when one exists there.</summary>
    private static Task<int> RunReviewAsync(DirectoryInfo? data, string? store, string urls, int? metricsPort, bool verbose, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var locations = LoopLocations.Resolve(data?.FullName, store);
        return ReviewServe.RunAsync(locations.Data, locations.Store, urls, metricsPort, verbose, output, error, cancellationToken);
    }

    private static async Task<int> RunCollectorAsync(string? bootstrap, FileInfo? kafkaConfig, FileInfo? keys, string urls, int? metricsPort, bool verbose, string? store, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(bootstrap) || keys is null)
        {
            await error.WriteLineAsync("--role collector needs --bootstrap <servers> and --keys <file>.").ConfigureAwait(false);
            return 2;
        }
        if (await KafkaConfigCli.LoadAsync(kafkaConfig, error).ConfigureAwait(false) is not { } kafkaProperties) return 2;
        return await CollectorServe.RunAsync(new CollectorOptions { BootstrapServers = bootstrap, KafkaProperties = kafkaProperties, KeysFile = keys.FullName }, urls, metricsPort, verbose, store, output, error, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> RunAsync(ServeSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        LoopLocations locations;
        LoopHost host;
        LoopTransport transport;
        TimeSpan? poll;
        TimeSpan? watch;
        IHost app;
        try
        {
            locations = LoopLocations.Resolve(settings.Data?.FullName, settings.Registry);
            transport = LoopTransport.FromEnvironment();
            // Over a broker, anyone who can publish to its virtual host could send a job: offers are signed with a key
            // every orchestrator and worker shares. In memory nobody else can reach the bus, so a random one does.
            var key = JobKey.FromEnvironment(required: transport.Broker is not null);
            host = Host(settings, locations) with { JobKey = key };
            poll = settings.PollDatasets == "off" ? null : Duration(settings.PollDatasets, "--poll-datasets");
            watch = settings.WatchRollouts == "off" ? null : Duration(settings.WatchRollouts, "--watch-rollouts");
            if (transport.Broker is null && host.Roles != LoopRoles.All)
            {
                throw new ArgumentException(
                    $"--role {settings.Role} needs a broker to meet the other roles: set {RabbitMqSettings.UriVariable}=amqp://user@host:5672/vhost "
                    + $"(and {RabbitMqSettings.PasswordVariable}), or run --role all in memory.");
            }

            app = Build(settings, locations, host, transport, poll, watch);
        }
        catch (FormatException e)
        {
            // The message names the variable and the part that is wrong, never the URI (it may hold the password).
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or Pipelines.PipelineException or InvalidDataException or IOException or UnauthorizedAccessException
                                   or System.Data.Common.DbException)
        {
            // A store that cannot be reached says so (Npgsql's messages never carry the password).
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        // One active orchestrator per store (docs/adr/0037-postgresql-store-and-one-active-orchestrator.md): a standby
        // waits here, before its bus and loops start, until the active one stops or dies.
        OrchestratorLease? lease = null;
        if (host.Registry is { } store)
        {
            var holder = string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}");
            try
            {
                lease = await OrchestratorLease.AcquireAsync(store.Database, holder,
                    active => error.WriteLine($"standby orchestrator {holder}: waiting for the active one ({active ?? "unknown"}) to stop"),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                app.Dispose();
                return 0;
            }
            catch (System.Data.Common.DbException e)
            {
                app.Dispose();
                await error.WriteLineAsync($"the orchestrator lease could not be taken: {e.Message}").ConfigureAwait(false);
                return 1;
            }

        }

        await using var held = lease;
        using (app)
        {
            var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
            // A holder that lost the lease stops at once (exit 3), so that it never acts beside the new active one.
            using var onLost = lease?.Lost.Register(() =>
            {
                error.WriteLine($"this orchestrator lost its lease: {lease.LostReason}; stopping");
                lifetime.StopApplication();
            });
            try
            {
                // Returns once the bus is up (MassTransitHostOptions.WaitUntilStarted), within the broker's start timeout.
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                await error.WriteLineAsync(transport.ExplainStartFailure(e)).ConfigureAwait(false);
                await StopAsync(app).ConfigureAwait(false);
                return 1;
            }

            app.MarkStarted();
            try
            {
                await app.Services.LoopReadyAsync(lifetime.ApplicationStopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                // Stopped before the worker was up: a normal stop.
                await StopAsync(app).ConfigureAwait(false);
                return 0;
            }
            catch (Exception e)
            {
                // The worker could not start (its folder, or the broker refused its queues): a message, not a stack trace.
                await error.WriteLineAsync($"the worker could not start: {e.Message}").ConfigureAwait(false);
                await StopAsync(app).ConfigureAwait(false);
                return 1;
            }

            // The first stdout line is the machine-readable contract.
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{ReadyLinePrefix}role={settings.Role} worker={(host.Roles.HasFlag(LoopRoles.Worker) ? host.Worker.WorkerId : "-")} slots={host.Worker.Slots} transport={transport}")).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (lease?.Handover is { } taken)
            {
                // After the ready line: a start that fails (the broker refused us) stays one line on stderr.
                await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"active orchestrator {taken.Holder}: lease generation {taken.Generation}{(taken.PreviousHolder is null ? "" : $", taken over from {taken.PreviousHolder}")}")).ConfigureAwait(false);
            }

            if (host.Roles.HasFlag(LoopRoles.Orchestrator) && host.Pipeline is { Apps.Count: 0 } bare)
            {
                // Not an error (a fresh install), but nothing will ever train: say so where a person looks first.
                await error.WriteLineAsync($"no app is registered in {bare.SourceName}, so no run will start: list the apps that may train under 'apps:'.").ConfigureAwait(false);
            }

            // SIGTERM or Ctrl+C: the host stops the roles (the worker reports its running jobs as failed), then the bus,
            // within its shutdown timeout.
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return lease?.LostReason is null ? 0 : 3;
    }

    private static IHost Build(ServeSettings settings, LoopLocations locations, LoopHost host, LoopTransport transport, TimeSpan? poll, TimeSpan? watch)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.AddFeedbackLoopDefaults("serve-" + settings.Role, settings.Verbose, HostOptionsCli.Overrides(settings.MetricsPort));

        // The bus first: the host stops services in reverse order, so the roles stop while the bus can still carry their reports.
        builder.Services.AddMassTransit(bus =>
        {
            bus.AddLoopConsumers();
            bus.UsingLoopTransport(transport, (context, cfg) => cfg.ConfigureLoopEndpoints(context));
        });
        if (host.Roles.HasFlag(LoopRoles.Worker))
        {
            // A worker's stop drains its running jobs first: the host must wait for that, plus the others' few seconds.
            var stop = host.Worker.StopLimit + TimeSpan.FromSeconds(3);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = o.ShutdownTimeout > stop ? o.ShutdownTimeout : stop);
        }

        if (transport.Broker is { } broker)
        {
            // Left alone, MassTransit keeps reconnecting to an unreachable broker and the start never returns.
            builder.Services.Configure<MassTransitHostOptions>(o => o.StartTimeout = broker.StartTimeout);
        }

        builder.Services.AddSingleton(locations).AddLoopServices(host);
        if (host.Roles.HasFlag(LoopRoles.Orchestrator) && poll is { } every)
        {
            builder.Services.AddHostedService(sp => new DatasetPollService(
                sp.GetRequiredService<IBus>(), locations.Data, every, sp.GetRequiredService<ILogger<DatasetPollService>>()));
        }

        if (host.Roles.HasFlag(LoopRoles.Orchestrator) && watch is { } look)
        {
            builder.Services.AddHostedService(sp => new RolloutWatchService(RolloutWatchService.Monitor(sp, locations.Data), look,
                sp.GetRequiredService<ILogger<RolloutWatchService>>()));
        }

        return builder.Build();
    }

    private static async Task StopAsync(IHost app)
    {
        using var limit = new CancellationTokenSource(FeedbackLoopHost.DefaultShutdownTimeout);
        try
        {
            await app.StopAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: the process is exiting anyway.
        }
    }

    /// <summary>The process's parts from the options; an <see cref="ArgumentException"/> says which option is wrong.</summary>
    private static LoopHost Host(ServeSettings settings, LoopLocations locations)
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

        if (!JobPools.IsValid(settings.Pool))
        {
            throw new ArgumentException($"--pool {settings.Pool}: {JobPools.Rule}.");
        }

        var data = locations.Data;
        var orchestrator = roles.HasFlag(LoopRoles.Orchestrator);
        var pipeline = HostOptionsCli.LoadPipeline(settings.Pipeline);
        var snapshots = new DatasetSnapshots(data);
        return new LoopHost
        {
            Roles = roles,
            Registry = orchestrator ? OpenStore(locations.Store) : null,
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
                Pool = settings.Pool,
                DrainTimeout = Duration(settings.DrainTimeout, "--drain-timeout"),
                ChildEnvironment = new ChildEnvironment(settings.PassEnvironment),
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

    /// <summary>The store; a SQLite file's folder is created (the default one is under the user's state folder, which may not exist yet).</summary>
    private static ModelRegistry OpenStore(string location)
    {
        if (StoreLocation.Parse(location).Engine == StoreEngine.Sqlite)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(location)!);
        }

        return new ModelRegistry(location);
    }

    private static TimeSpan Duration(string text, string option) =>
        Durations.TryParse(text, out var duration) && duration > TimeSpan.Zero
            ? duration
            : throw new ArgumentException($"{option} {text}: expected a duration above 0 such as 500ms, 10s, 5m or 1h.");

    private sealed record ServeSettings(
        string Role, DirectoryInfo? Data, FileInfo? Pipeline, string? Registry, int Gpus, string? WorkerId, DirectoryInfo? WorkDirectory,
        string Heartbeat, string ClaimTimeout, string Sweep, string OfferAgain, string PollDatasets, IReadOnlyList<string> PassEnvironment, int? MetricsPort,
        bool Verbose, string WatchRollouts, string Pool, string DrainTimeout);
}

/// <summary>
/// Announces every app's datasets to the orchestrator's own trigger every <c>every</c>: the same check the extractors'
/// DatasetCommitted starts (idempotent: a run starts only when enough new pairs arrived), so a run is never missed
/// because no extractor announced its commit on this broker.
/// </summary>
internal sealed partial class DatasetPollService(IBus bus, string data, TimeSpan every, ILogger<DatasetPollService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    foreach (var app in DatasetPaths.Apps(data))
                    {
                        await bus.Publish(new DatasetCommitted(app, 0), stoppingToken).ConfigureAwait(false);
                    }
                }
#pragma warning disable CA1031 // The next poll tries again; the orchestrator must outlive a failed one.
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    LogPollFailed(logger, Durations.Format(every), e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "dataset poll failed (next one in {Every}): {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string every, string reason);
}
