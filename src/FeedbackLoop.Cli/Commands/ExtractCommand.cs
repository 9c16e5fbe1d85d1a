using System.CommandLine;
using System.Diagnostics;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.Cli.Commands;

/// <summary><c>feedbackloop extract</c>: events topic → preference pairs, labels and engagement as Parquet.</summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var bootstrap = new Option<string>("--bootstrap")
        {
            Description = "Kafka bootstrap servers (host:port,...), e.g. the line `feedbackloop broker` prints.",
            Required = true,
        };
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Data folder; datasets go to <data>/datasets/<app_id>/{preference-pairs,feedback-labels,engagement}/.",
            DefaultValueFactory = _ => new DirectoryInfo("data"),
        };
        var untilIdle = new Option<double?>("--until-idle")
        {
            Description = "Exit 0 once everything read is written and committed and no event arrived for this many seconds. Without it, runs until Ctrl+C.",
        };
        var group = new Option<string>("--group")
        {
            Description = "Consumer group id; instances sharing it split the partitions.",
            DefaultValueFactory = _ => "feedbackloop-extractors",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log partition assignments and each dead-lettered record." };

        var command = new Command("extract", "Run the preference and engagement extractors on the events topic.")
        {
            bootstrap, data, untilIdle, group, verbose,
        };
        command.SetAction((parse, ct) => RunAsync(
            parse.GetRequiredValue(bootstrap), parse.GetValue(data)!, parse.GetValue(untilIdle), parse.GetValue(group)!,
            parse.GetValue(verbose), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(
        string bootstrap, DirectoryInfo data, double? untilIdle, string group, bool verbose,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (untilIdle is <= 0)
        {
            await error.WriteLineAsync("--until-idle must be a positive number of seconds, e.g. --until-idle 5.").ConfigureAwait(false);
            return 2;
        }
        using var logging = CliLogging.Create(verbose);
        var store = new DatasetStore(data.FullName);
        var loop = new ExtractionLoop(
            new ExtractionLoopOptions
            {
                BootstrapServers = bootstrap,
                StateDirectory = Path.Combine(data.FullName, "state", "extract"),
                GroupId = group,
                UntilIdle = untilIdle is { } s ? TimeSpan.FromSeconds(s) : null,
            },
            store,
            logging.CreateLogger("extract"));

        await error.WriteLineAsync($"Extracting from {bootstrap} into {data.FullName} (group {group}){(untilIdle is { } i ? $", stopping after {i:0.#}s without events" : ", Ctrl+C to stop")}.").ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var run = loop.RunAsync(cancellationToken);
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            var p = loop.Progress;
            await error.WriteLineAsync($"  {clock.Elapsed:mm\\:ss}  read {p.RecordsRead:N0}  dead-lettered {p.DeadLettered:N0}  pairs {p.PairsWritten:N0}  labels {p.LabelsWritten:N0}  windows {p.WindowsWritten:N0}").ConfigureAwait(false);
        }
        try
        {
            await run.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: the loop already wrote and committed what it had processed.
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or IOException)
        {
            await error.WriteLineAsync($"Extraction stopped: {ex.Message}. Nothing past the last commit was lost; run the same command again to resume.").ConfigureAwait(false);
            return 1;
        }

        var progress = loop.Progress;
        var counters = loop.Counters;
        await output.WriteLineAsync($"events read {progress.RecordsRead}, processed {counters.EventsProcessed}, duplicates {counters.DuplicateEvents}, dead-lettered {progress.DeadLettered}, replayed {progress.ReplayedRecords}").ConfigureAwait(false);
        await output.WriteLineAsync($"rows written: pairs {progress.PairsWritten}, labels {progress.LabelsWritten}, engagement windows {progress.WindowsWritten} (already present, skipped: {progress.RowsAlreadyPresent})").ConfigureAwait(false);
        foreach (var app in DatasetPaths.Apps(data.FullName))
            await output.WriteLineAsync($"datasets of {app}: {Path.Combine(data.FullName, "datasets", app)}").ConfigureAwait(false);
        return 0;
    }
}
