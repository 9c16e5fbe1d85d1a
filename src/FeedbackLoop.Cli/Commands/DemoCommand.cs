using System.CommandLine;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop demo</c>: the whole first half of the loop in one process — the embedded Kafka cluster,
/// a scripted app reporting through the real SDK, the extractors, and Parquet datasets on disk.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder for the datasets and the extractor state.", DefaultValueFactory = _ => new DirectoryInfo("demo-out") };
        var sessions = new Option<int>("--sessions") { Description = "Scripted chat sessions to send through the SDK.", DefaultValueFactory = _ => 500 };
        var command = new Command("demo", "Run the embedded pipeline end to end: SDK → Kafka → extractors → Parquet.") { output, sessions };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(output)!, parse.GetValue(sessions), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(DirectoryInfo output, int sessions, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (sessions < 1)
        {
            await stderr.WriteLineAsync("--sessions must be at least 1.").ConfigureAwait(false);
            return 2;
        }
        await stdout.WriteLineAsync("FeedbackLoop demo: a scripted chat app (a simulation, not real users) reports what its users did with each answer.").ConfigureAwait(false);
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics();
        await stdout.WriteLineAsync($"Embedded Kafka cluster up at {cluster.BootstrapServers}").ConfigureAwait(false);

        var events = SyntheticTraffic.Sessions(sessions, appId: "demo", start: DateTimeOffset.UtcNow.AddHours(-1)).ToList();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "demo" }, new KafkaFeedbackTransport(cluster.BootstrapServers)))
        {
            foreach (var evt in events) client.Track(evt);
            var delivered = await client.FlushAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            await stdout.WriteLineAsync($"SDK: {client.Counters.Sent} events sent ({client.Counters.DroppedQueueFull} dropped){(delivered ? "" : " — not all were delivered")}").ConfigureAwait(false);
        }

        using var logging = CliLogging.Create();
        var loop = new ExtractionLoop(new ExtractionLoopOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            StateDirectory = Path.Combine(output.FullName, "state", "extract"),
            UntilIdle = TimeSpan.FromSeconds(2),
        }, new DatasetStore(output.FullName), logging.CreateLogger("extract"));
        await loop.RunAsync(ct).ConfigureAwait(false);
        await stdout.WriteLineAsync($"Extractors: {loop.Counters.EventsProcessed} events processed, {loop.Progress.DeadLettered} dead-lettered").ConfigureAwait(false);

        foreach (var kind in new[] { DatasetKinds.PreferencePairs, DatasetKinds.FeedbackLabels, DatasetKinds.Engagement })
        {
            var folder = DatasetPaths.Folder(output.FullName, "demo", kind);
            long rows = 0;
            foreach (var file in DatasetPaths.Files(folder)) rows += await DatasetReader.CountRowsAsync(file, ct).ConfigureAwait(false);
            await stdout.WriteLineAsync($"  {kind,-17} {rows,7} rows  {folder}").ConfigureAwait(false);
        }
        return 0;
    }
}
