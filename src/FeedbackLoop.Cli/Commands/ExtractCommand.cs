using System.CommandLine;
using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Pipelines;
using MassTransit;
using PipelineException = FeedbackLoop.Pipelines.PipelineException;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop extract</c>: events topic → preference pairs, labels and engagement as Parquet. Runs on the Generic
/// Host as a hosted service: SIGTERM or Ctrl+C stop it within the host's shutdown timeout, after it wrote and committed
/// what it had read (row ids are deterministic, so whatever was read but not committed is read again, never doubled).
/// </summary>
internal static class ExtractCommand
{
    /// <summary>Exit code of an <c>--until-idle</c> run that found records deleted before they were read.</summary>
    public const int RecordsLostExitCode = 3;

    /// <summary>The most extraction loops one process runs (<c>--consumers</c>): more gains nothing on the machines we measured.</summary>
    public const int MaxConsumers = 16;

    /// <summary>The consumer group every extractor joins unless told otherwise.</summary>
    public const string DefaultGroup = "feedbackloop-extractors";

    public static Command Create()
    {
        var bootstrap = new Option<string>("--bootstrap")
        {
            Description = "Kafka bootstrap servers (host:port,...), e.g. the line `feedbackloop broker` prints.",
            Required = true,
        };
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = $"Data folder; datasets go to <data>/datasets/<app_id>/{{preference-pairs,feedback-labels,engagement}}/. Default: ${LoopLocations.DataVariable}, else {LoopLocations.DefaultData}.",
        };
        var untilIdle = new Option<double?>("--until-idle")
        {
            Description = "Exit once every partition is read to its end, everything read is written and committed, and no event arrived for this many seconds: 0, or "
                + $"{RecordsLostExitCode} when the broker had deleted records before they were read (retention). Without it, runs until Ctrl+C or SIGTERM.",
        };
        var group = new Option<string>("--group")
        {
            Description = "Consumer group id; instances sharing it split the partitions.",
            DefaultValueFactory = _ => DefaultGroup,
        };
        var maxEventAge = new Option<double?>("--max-event-age-days")
        {
            Description = "Dead-letter events whose occurred_at is more than this many days older than their record's time (off by default; e.g. 30 in production, wider or off for a backfill).",
        };
        var kafkaConfig = KafkaConfigCli.Option();
        var pipelineFile = HostOptionsCli.Pipeline();
        var metricsPort = HostOptionsCli.MetricsPort();
        var verbose = new Option<bool>("--verbose") { Description = "Log partition assignments and each dead-lettered record." };
        var consumers = new Option<int>("--consumers")
        {
            Description = "Extraction loops in this process, each a member of the group with partitions of its own, so the work of different partitions "
                + $"runs on different cores (at most {MaxConsumers}; set it to the machine's cores for throughput). Memory budgets are split between them.",
            DefaultValueFactory = _ => 1,
        };

        var command = new Command("extract", "Run the preference and engagement extractors on the events topic.")
        {
            bootstrap, kafkaConfig, data, untilIdle, group, pipelineFile, metricsPort, verbose, maxEventAge, consumers,
        };
        command.Subcommands.Add(ExtractStatusCommand.Create());
        command.SetAction((parse, ct) => RunAsync(
            parse.GetRequiredValue(bootstrap), parse.GetValue(kafkaConfig), parse.GetValue(data), parse.GetValue(untilIdle), parse.GetValue(group)!, parse.GetValue(pipelineFile),
            parse.GetValue(metricsPort), parse.GetValue(verbose), parse.GetValue(maxEventAge), parse.GetValue(consumers), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(
        string bootstrap, FileInfo? kafkaConfig, DirectoryInfo? dataOption, double? untilIdle, string group, FileInfo? pipelineFile, int? metricsPort, bool verbose, double? maxEventAgeDays,
        int consumers, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (consumers is < 1 or > MaxConsumers)
        {
            await error.WriteLineAsync($"--consumers must be a whole number from 1 to {MaxConsumers}, e.g. the machine's cores: --consumers {Math.Min(Environment.ProcessorCount, MaxConsumers)}.").ConfigureAwait(false);
            return 2;
        }
        if (untilIdle is <= 0)
        {
            await error.WriteLineAsync("--until-idle must be a positive number of seconds, e.g. --until-idle 5.").ConfigureAwait(false);
            return 2;
        }
        if (maxEventAgeDays is not null and not (> 0 and <= 36_500))
        {
            await error.WriteLineAsync("--max-event-age-days must be a number of days above 0 and at most 36500, e.g. --max-event-age-days 30.").ConfigureAwait(false);
            return 2;
        }

        if (await KafkaConfigCli.LoadAsync(kafkaConfig, error).ConfigureAwait(false) is not { } kafkaProperties) return 2;

        PipelineDefinition pipeline;
        try
        {
            pipeline = HostOptionsCli.LoadPipeline(pipelineFile);
        }
        catch (PipelineException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        LoopTransport transport;
        try
        {
            transport = LoopTransport.FromEnvironment();
        }
        catch (FormatException e)
        {
            // The message names the variable and the part that is wrong, never the URI (it may hold the password).
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        var locations = LoopLocations.Resolve(dataOption?.FullName, null);
        var data = locations.Data;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.AddFeedbackLoopDefaults("extract", verbose, HostOptionsCli.Overrides(metricsPort));
        var (budgets, invalidKey) = ExtractionBudgetConfig.Read(builder.Configuration);
        if (budgets is null)
        {
            await error.WriteLineAsync($"Configuration {invalidKey} must be a positive whole number.").ConfigureAwait(false);
            return 2;
        }
        var cadence = ExtractionBudgetConfig.ReadCadence(builder.Configuration);
        if (cadence.InvalidKey is { } invalidCadenceKey)
        {
            await error.WriteLineAsync($"Configuration {invalidCadenceKey} must be a positive whole number (seconds at most 86400, bytes at most 2147483647).").ConfigureAwait(false);
            return 2;
        }
        builder.Services.AddSingleton(locations);
        if (transport.Broker is not null)
        {
            // Distributed mode: tell the orchestrator of each commit at once. Publish only (no queues of its own), and
            // extraction never waits for the broker to start: the orchestrator's dataset poll is the fallback.
            builder.Services.AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, _) => { }));
            builder.Services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = false);
            builder.Services.AddSingleton<CommitAnnouncer>();
        }

        // One loop per consumer, each with its own data-folder index and Kafka clients: they share the folder as separate
        // processes would (the store skips rows another instance wrote, progress marks and checkpoints are per partition).
        // They join the group together (BeforeSubscribe): one that joined alone would take every partition and hand half of
        // them over at once. The wait is bounded, so a loop that fails before it cannot hold the others.
        using var together = new Barrier(consumers);
        builder.Services.AddSingleton<IReadOnlyList<ExtractionLoop>>(sp => [.. Enumerable.Range(1, consumers).Select(consumer => new ExtractionLoop(
            new ExtractionLoopOptions
            {
                Consumer = consumers == 1 ? null : consumer,
                BeforeSubscribe = consumers == 1 ? null : () => together.SignalAndWait(TimeSpan.FromSeconds(30)),
                BootstrapServers = bootstrap,
                KafkaProperties = kafkaProperties,
                StateDirectory = Path.Combine(data, "state", "extract"),
                GroupId = group,
                UntilIdle = untilIdle is { } s ? TimeSpan.FromSeconds(s) : null,
                FlushInterval = cadence.Flush,
                CheckpointInterval = cadence.Interval,
                CheckpointMaxRecords = cadence.MaxRecords,
                // Each listed app's rules, the file's defaults for every other app (as the demo does), with the budgets
                // from configuration and the event-age horizon from the command line.
                Settings = new ExtractionSettings
                {
                    Rules = pipeline.ToRuleBook(),
                    MaxEntriesPerSession = budgets.MaxEntriesPerSession,
                    MaxSessionBytes = budgets.MaxSessionBytes,
                    // The process's budget, shared out: each loop holds the sessions of its own partitions.
                    MaxSessionStateBytes = Math.Max(1, budgets.MaxSessionStateBytes / consumers),
                    MaxEventAge = maxEventAgeDays is { } days ? TimeSpan.FromDays(days) : null,
                    MaxCheckpointBytes = cadence.MaxBytes,
                },
                // Events of an app the file does not list are extracted, counted and reported once: they never train.
                IsRegisteredApp = pipeline.IsRegistered,
                Committed = sp.GetService<CommitAnnouncer>() is { } announcer ? announcer.Announce : null,
            },
            new DatasetStore(data),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(consumers == 1 ? "extract" : $"extract.{consumer}")))]);
        builder.Services.AddSingleton<ExtractionService>().AddHostedService(sp => sp.GetRequiredService<ExtractionService>());
        using var app = builder.Build();

        await error.WriteLineAsync($"Extracting from {bootstrap} into {data} (group {group}{(consumers > 1 ? $", {consumers} consumers" : "")}, {GcMode.Describe()}){(untilIdle is { } i ? $", stopping after {i:0.#}s without events" : ", Ctrl+C or SIGTERM to stop")}.").ConfigureAwait(false);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        app.MarkStarted();
        var loops = app.Services.GetRequiredService<IReadOnlyList<ExtractionLoop>>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        // Progress is for a person watching: a pipe or a log file gets the summary only.
        var progress = Console.IsErrorRedirected ? Task.CompletedTask : ShowProgressAsync(loops, error, lifetime.ApplicationStopping);
        await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        await progress.ConfigureAwait(false);

        if (app.Services.GetRequiredService<ExtractionService>().Failure is { } failure)
        {
            var reason = failure is OutOfMemoryException
                ? $"the process ran out of memory (give it more, or lower {ExtractionBudgetConfig.MaxSessionStateBytesKey}, docs/SECURITY.md)"
                : failure.Message;
            await error.WriteLineAsync($"Extraction stopped: {reason}. Nothing past the last commit was lost; run the same command again to resume.").ConfigureAwait(false);
            return 1;
        }

        var p = ExtractionTotals.Of(loops);
        await output.WriteLineAsync($"events read {p.RecordsRead}, processed {p.EventsProcessed}, duplicates {p.DuplicateEvents}, dead-lettered {p.DeadLettered}, replayed {p.ReplayedRecords}").ConfigureAwait(false);
        await output.WriteLineAsync($"rows written: pairs {p.PairsWritten}, labels {p.LabelsWritten}, engagement windows {p.WindowsWritten} (already present, skipped: {p.RowsAlreadyPresent})").ConfigureAwait(false);
        // Rows of a session appear when it ends: a quick try that sends one thumb and no session.ended sees 0 and must be told why.
        await output.WriteLineAsync($"sessions still open {p.OpenSessions} (their labels are written on session.ended, or once event time passes the session timeout, {new ExtractionSettings().SessionTimeout.TotalMinutes:0} minutes by default)").ConfigureAwait(false);
        var discarded = string.Join(", ", p.CheckpointsDiscarded.Select(d => $"{d.Key} {d.Value}"));
        await output.WriteLineAsync($"checkpoints: written {p.CheckpointsWritten}, loaded {p.CheckpointsLoaded}, discarded {p.CheckpointsDiscarded.Sum(d => d.Value)}{(discarded.Length > 0 ? $" ({discarded})" : "")}").ConfigureAwait(false);
        foreach (var appId in DatasetPaths.Apps(data))
            await output.WriteLineAsync($"datasets of {appId}: {Path.Combine(data, "datasets", appId)}").ConfigureAwait(false);
        await ReportUnregisteredAsync(p, pipeline, output).ConfigureAwait(false);
        if (app.Services.GetService<CommitAnnouncer>() is { } commits)
            await output.WriteLineAsync($"DatasetCommitted on {transport}: {commits.Published} published, {commits.Failed} not (the orchestrator's dataset poll finds those pairs)").ConfigureAwait(false);
        if (p.RecordsLost > 0)
        {
            var partitions = string.Join(", ", p.RecordsLostByPartition.Select(l => $"partition {l.Key}: {l.Value}"));
            await output.WriteLineAsync($"records lost before they were read: {p.RecordsLost} ({partitions})").ConfigureAwait(false);
            await error.WriteLineAsync($"The broker deleted {p.RecordsLost} records before this extractor read them (the log above names the offsets). "
                + "Their feedback is missing from the datasets: read faster than retention deletes (more extractors, longer retention), "
                + "and use a real Kafka cluster in production, not the embedded one (docs/DEPLOY.md).").ConfigureAwait(false);
            // A batch run (--until-idle) is how scripts and CI use extract: loss must fail it. A service stopped by a
            // signal has logged the loss as an error and exported it as a metric, which is where services are watched.
            if (untilIdle is not null) return RecordsLostExitCode;
        }
        return 0;
    }

    /// <summary>
    /// Names each app whose events were extracted though the pipeline does not register it, once. The ids passed the
    /// app-id rule (a-z, 0-9, '.', '_', '-'), so they are printed as they are: an operator needs them to register an app.
    /// </summary>
    private static async Task ReportUnregisteredAsync(ExtractionTotals totals, PipelineDefinition pipeline, TextWriter output)
    {
        if (totals.UnregisteredEvents == 0) return;
        var named = totals.UnregisteredApps;
        var more = totals.UnregisteredUnnamed > 0 ? $" and more not named (over the cap of {named.Count})" : "";
        await output.WriteLineAsync(
            $"unregistered apps (events extracted, no run will start; to let one train, {pipeline.HowToRegister}): "
            + $"{string.Join(", ", named.Select(LogText.Escape))}{more}; {totals.UnregisteredEvents} events").ConfigureAwait(false);
    }

    private static async Task ShowProgressAsync(IReadOnlyList<ExtractionLoop> loops, TextWriter error, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                // Progress only: it is safe to read while the loops run (their extractors' counters are not).
                await error.WriteLineAsync($"  {clock.Elapsed:mm\\:ss}  read {loops.Sum(l => l.Progress.RecordsRead):N0}  dead-lettered {loops.Sum(l => l.Progress.DeadLettered):N0}  "
                    + $"pairs {loops.Sum(l => l.Progress.PairsWritten):N0}  labels {loops.Sum(l => l.Progress.LabelsWritten):N0}  windows {loops.Sum(l => l.Progress.WindowsWritten):N0}").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}

/// <summary>
/// The extraction loops (<c>--consumers</c>) as one hosted service. A stop cancels them all, and each writes and commits what
/// it processed before it returns. With <c>--until-idle</c> each loop ends by itself once its partitions are read to the end
/// and nothing arrived, nor did its assignment change, for the idle time: a loop the group gave no partition ends too, and
/// one between a revocation and its next assignment does not take that pause for the end. The first failure stops the
/// other loops, which commit what they processed, and the process.
/// </summary>
internal sealed class ExtractionService(IReadOnlyList<ExtractionLoop> loops, IHostApplicationLifetime lifetime) : BackgroundService
{
    /// <summary>Why a loop stopped on its own, when it failed (Kafka or the disk); null after a normal end.</summary>
    public Exception? Failure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stops = loops.Select(_ => CancellationTokenSource.CreateLinkedTokenSource(stoppingToken)).ToList();
        var running = loops.Select((loop, i) => (Run: RunOneAsync(loop, stops[i].Token), Stop: stops[i])).ToList();
        try
        {
            while (running.Count > 0)
            {
                var ended = await Task.WhenAny(running.Select(r => r.Run)).ConfigureAwait(false);
                running.RemoveAll(r => r.Run == ended);
                if (Failure is null) continue;
                foreach (var other in running) await other.Stop.CancelAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var stop in stops) stop.Dispose();
            // --until-idle, or a failure: the process ends with the loops.
            lifetime.StopApplication();
        }
    }

    private async Task RunOneAsync(ExtractionLoop loop, CancellationToken stop)
    {
        try
        {
            await loop.RunAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // SIGTERM, Ctrl+C or another loop's end: the loop already wrote and committed what it had processed.
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or IOException or OutOfMemoryException)
        {
            // Out of memory stops the loop without a commit (ExtractionLoop), never dead-letters the records read meanwhile.
            Failure ??= ex;
        }
    }
}

/// <summary>
/// In distributed mode, publishes <see cref="DatasetCommitted"/> for each app with new pairs after every durable commit, so
/// the orchestrator starts a run at once instead of at its next dataset poll. The poll stays the fallback: a publish
/// that fails or takes longer than <see cref="PublishTimeout"/> (the broker is down) is logged and counted, and
/// extraction goes on.
/// </summary>
internal sealed partial class CommitAnnouncer(IBus bus, ILogger<CommitAnnouncer> logger)
{
    /// <summary>How long one publish may hold the consume thread.</summary>
    public static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(3);

    private long _published;
    private long _failed;

    /// <summary>Messages published (with the broker's confirmation).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Messages that could not be published; their pairs wait for the orchestrator's poll.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The extraction loop's <c>Committed</c> callback.</summary>
    public void Announce(ExtractionWriteResult written)
    {
        foreach (var (app, pairs) in written.PairsByApp)
        {
            using var timeout = new CancellationTokenSource(PublishTimeout);
            try
            {
                bus.Publish(new DatasetCommitted(app, pairs, written.TraceParent), timeout.Token).GetAwaiter().GetResult();
                Interlocked.Increment(ref _published);
            }
#pragma warning disable CA1031 // Whatever the broker did, extraction goes on: the orchestrator's poll finds the pairs.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _failed);
                LogNotPublished(logger, app, e.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DatasetCommitted for app {AppId} not published ({Fault}); the orchestrator's dataset poll will find the pairs")]
    private static partial void LogNotPublished(ILogger logger, string appId, string fault);
}
