using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 10, findings 5 and 8 through the real path. Only an app the pipeline registers trains: events of any other
/// app id are extracted and reported once, but no run, model or promotion ever appears for it. And hostile field
/// names and types never reach the extractor's output: each such record is dead-lettered with a fixed reason.
/// </summary>
public sealed class HardeningAppsTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>, IAsyncDisposable
{
    private const string Evil = "evil";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly JobLoop _loop = new();

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task Events_of_an_unregistered_app_are_extracted_and_reported_but_never_start_a_run_while_the_registered_app_trains()
    {
        // The pipeline registers only JobLoop.AppId; its defaults promote at 60 new pairs when there is no incumbent, the
        // very settings that let `evil` train and promote before.
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        var pipeline = _loop.Services.GetRequiredService<PipelineDefinition>();
        Assert.True(pipeline.IsRegistered(JobLoop.AppId));
        Assert.False(pipeline.IsRegistered(Evil));

        // 40 sessions each (200 events, 80 pairs): over the threshold for both apps.
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 2);
        await ProduceAsync(harness, JobLoop.AppId, 40);
        await ProduceAsync(harness, Evil, 40);

        // The trigger counts each commit it ignores; the count tells when every commit of `evil` was handled.
        long ignored = 0, evilCommits = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "feedbackloop.runs.unregistered_app_commits") listener.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref ignored, value));
        meters.Start();

        // The extractor announces every app's commits, as a deployment's does (and the dataset poll would anyway).
        var options = harness.Options(dataRoot: _loop.Root) with
        {
            IsRegisteredApp = pipeline.IsRegistered,
            Committed = written =>
            {
                foreach (var (appId, pairs) in written.PairsByApp)
                {
                    if (appId == Evil) Interlocked.Increment(ref evilCommits);
                    _loop.Harness.Bus.Publish(new DatasetCommitted(appId, pairs, written.TraceParent)).GetAwaiter().GetResult();
                }
            },
        };
        var extraction = new ExtractionLoop(options, new DatasetStore(_loop.Root), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            await extraction.RunAsync(timeout.Token);
        }

        // The registered app trains and is promoted.
        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(run.RunId, _loop.Registry.CurrentModel(JobLoop.AppId)?.RunId);

        // `evil`'s events were extracted (the topic, not the extractor, is the guard) and reported once.
        Assert.Equal(80, (await DatasetReader.ReadPairsAsync(_loop.Root, Evil)).Count);
        Assert.Equal([Evil], extraction.UnregisteredApps.Reported);
        Assert.Equal(200, extraction.UnregisteredApps.Events);

        // Every commit of `evil` was handled (and ignored) by the trigger, so the store below is its final word, not a
        // snapshot taken in a race.
        Assert.True(Interlocked.Read(ref evilCommits) > 0);
        Assert.True(await Eventually.TrueAsync(() => Interlocked.Read(ref ignored) >= Interlocked.Read(ref evilCommits), Deadline),
            $"{Interlocked.Read(ref ignored)} of {Interlocked.Read(ref evilCommits)} commits of evil were ignored");
        Assert.Empty(_loop.Registry.ListRuns(Evil));
        Assert.Empty(_loop.Registry.ListModels(Evil));
        Assert.Null(_loop.Registry.CurrentModel(Evil));
        Assert.DoesNotContain(Evil, _loop.Registry.ListApps());
        Assert.All(_loop.Jobs.List(), job => Assert.Equal(JobLoop.AppId, job.AppId));
        Assert.False(Directory.Exists(Path.Combine(_loop.Root, "models", Evil)));
    }

    [Fact]
    public async Task A_run_of_an_app_that_is_no_longer_registered_ends_without_a_job_or_a_model()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        // `evil` has pairs (its commit is ignored), and the store holds a running run for it, as one from before
        // registration was required (or of an app taken off the pipeline) would.
        await _loop.CommitAsync(80, Evil);
        var snapshot = await new DatasetSnapshots(_loop.Root).CaptureAsync(Evil, CancellationToken.None);
        _loop.Registry.StartRun("evil-r80", Evil, snapshot);

        // The supervisor's sweep advances every running run; for this one, the advance ends it.
        Assert.True(await Eventually.TrueAsync(() => _loop.Registry.GetRun("evil-r80")?.Status == RunStatus.Failed, Deadline),
            $"the run did not end: {_loop.Registry.GetRun("evil-r80")}");
        Assert.Equal(RunReconciler.UnregisteredAppReason, _loop.Registry.GetRun("evil-r80")!.Reason);
        Assert.Empty(_loop.Jobs.List());
        Assert.Empty(_loop.Registry.ListModels(Evil));
        Assert.Null(_loop.Registry.CurrentModel(Evil));
    }

    [Fact]
    public async Task Extract_as_a_process_logs_no_user_text_dead_letters_hostile_names_and_types_with_fixed_reasons_and_reports_an_unregistered_app_once()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 1);
        using var folder = new TempFolder("apps-extract");
        var pipelineFile = Path.Combine(folder.Path, "pipeline.yaml");
        await File.WriteAllTextAsync(pipelineFile, $"apps:\n  {JobLoop.AppId}:\n");

        // The sender's text: a forged log line, a terminal escape, a card number and an e-mail, as JSON escapes.
        const string hostile = @"x\r\n2026-03-01 WARN forged line \u001b[2J\u001b[31m 4111 1111 1111 1111 jane.doe@example.com";
        const string valid =
            """{"event_id":"e-1","type":"feedback.thumb","v":1,"app_id":"chat-app","session_id":"s-1","user_id":"u-1","occurred_at":"2026-03-01T09:00:00Z","data":{"generation_id":"g-1","value":"up"}}""";
        string[] records =
        [
            valid.Replace("\"app_id\"", $"\"{hostile}\":1,\"app_id\"", StringComparison.Ordinal),
            valid.Replace("\"app_id\"", $"\"{string.Concat(Enumerable.Repeat(hostile, 250))}\":1,\"app_id\"", StringComparison.Ordinal),
            valid.Replace("\"feedback.thumb\"", $"\"{hostile}\"", StringComparison.Ordinal),
            valid.Replace("\"feedback.thumb\"", $"\"generation.{hostile}\"", StringComparison.Ordinal),
        ];
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var record in records)
            {
                producer.Produce(KafkaTopics.Events, new Message<byte[]?, byte[]?> { Key = "s-1"u8.ToArray(), Value = Encoding.UTF8.GetBytes(record) });
            }

            // And valid events of a registered and an unregistered app: `evil` must be named once, however many events it has.
            foreach (var evt in Sessions(JobLoop.AppId, 3).Concat(Sessions(Evil, 15)))
            {
                producer.Produce(KafkaTopics.Events, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(evt.SessionId), Value = EventJson.SerializeToUtf8Bytes(evt) });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        using var extract = CliProcess.Start("extract", "--bootstrap", cluster.BootstrapServers, "--data", Path.Combine(folder.Path, "data"),
            "--pipeline", pipelineFile, "--until-idle", "2", "--verbose");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));
        var output = extract.Output;
        Assert.True(exit == 0, $"exit {exit}:\n{output}");

        // Nothing of the sender's text in stdout or stderr (a logged CR would also have carried "forged" along).
        foreach (var leak in new[] { "forged", "4111", "jane.doe", "example.com", "\u001b", "[2J", "[31m" })
        {
            Assert.DoesNotContain(leak, output, StringComparison.Ordinal);
        }

        // Each hostile record was dead-lettered with a fixed field and reason.
        var letters = ReadDeadLetters(cluster.BootstrapServers);
        Assert.Equal(records.Length, letters.Count);
        Assert.Equal([("$", EventJson.UnknownFieldReason), ("$", EventJson.UnknownFieldReason), ("type", EventJson.UnknownTypeReason), ("type", EventJson.UnknownTypeReason)],
            letters.Select(l => (l[ExtractionLoop.FieldHeader], l[ExtractionLoop.ReasonHeader])).ToList());

        // The unregistered app is reported once, in the summary and in the log; the registered one is not.
        var summary = Assert.Single(output.Split('\n'), line => line.StartsWith("unregistered apps", StringComparison.Ordinal));
        Assert.Contains($"): {Evil}; ", summary, StringComparison.Ordinal);
        Assert.DoesNotContain(JobLoop.AppId + ",", summary, StringComparison.Ordinal);
        Assert.Single(output.Split('\n'), line => line.Contains($"Events of app {Evil} ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_all_as_a_process_trains_the_registered_app_and_never_starts_a_run_for_an_unregistered_one()
    {
        using var folder = new TempFolder("apps-serve");
        var data = Path.Combine(folder.Path, "data");
        var store = Path.Combine(folder.Path, "store", "registry.db");
        var pipelineFile = Path.Combine(folder.Path, "pipeline.yaml");
        // The retrain threshold and the defaults' gate are those that promoted `evil-m225` (no incumbent: promote).
        await File.WriteAllTextAsync(pipelineFile, $"defaults:\n  retrain: {{min_new_pairs: 60}}\n  split: {{eval_fraction: 0.25}}\napps:\n  {JobLoop.AppId}:\n");
        await WritePairsAsync(data, JobLoop.AppId, 80);
        await WritePairsAsync(data, Evil, 80);

        // No extractor: the orchestrator's own dataset poll announces both apps every 200 ms.
        using var serve = CliProcess.Start("serve", "--role", "all", "--data", data, "--store", store, "--pipeline", pipelineFile, "--poll-datasets", "200ms");
        Assert.StartsWith(Cli.Commands.ServeCommand.ReadyLinePrefix, await serve.FirstStdoutLineAsync(Deadline), StringComparison.Ordinal);

        var registry = new ModelRegistry(store);
        Assert.True(await Eventually.TrueAsync(() => registry.CurrentModel(JobLoop.AppId) is not null, TimeSpan.FromSeconds(120)),
            $"the registered app was not promoted:\n{serve.Output}");
        // The orchestrator logs the first ignored commit of `evil`: from then on its store is the final word on `evil`.
        Assert.True(await Eventually.TrueAsync(() => serve.Output.Contains($"Datasets of app {Evil} ", StringComparison.Ordinal), Deadline),
            $"no commit of evil was ignored:\n{serve.Output}");
        Assert.Empty(registry.ListRuns(Evil));
        Assert.Empty(registry.ListModels(Evil));
        Assert.Null(registry.CurrentModel(Evil));
        Assert.False(Directory.Exists(Path.Combine(data, "models", Evil)));

        var (exit, _) = await serve.TerminateAsync(TimeSpan.FromSeconds(10));
        Assert.True(exit == 0, $"exit {exit}:\n{serve.Output}");
        // Logged once per app id, however many polls announced it.
        Assert.Single(serve.Output.Split('\n'), line => line.Contains($"Datasets of app {Evil} ", StringComparison.Ordinal));
    }

    /// <summary>Comparison pairs written as an extractor would.</summary>
    private static async Task WritePairsAsync(string data, string appId, int count)
    {
        var output = new ExtractionOutput();
        for (var n = 0; n < count; n++)
        {
            output.Pairs.Add(new PreferencePair(
                StableId.Pair("comparison", $"{appId}-c{n}", $"{appId}-r{n}"), appId, [new ConversationTurn("user", $"Question {n}?")],
                new ConversationTurn("assistant", $"Answer {n}, with an example."), new ConversationTurn("assistant", $"Well, {n} depends."),
                "comparison", 1.0, $"{appId}-c{n}", $"{appId}-r{n}", "m1", "m1", $"{appId}-s{n}", "u1", DateTimeOffset.UnixEpoch.AddMinutes(n)));
        }

        await new DatasetStore(data).WriteAsync(output);
    }

    /// <summary>Side-by-side sessions with a choice (rule 1: two pairs each), five events each.</summary>
    private static IEnumerable<FeedbackEvent> Sessions(string appId, int sessions)
    {
        for (var i = 0; i < sessions; i++)
        {
            var set = $"set{i}";
            foreach (var evt in new SessionScript(appId, $"{appId}-s{i}", $"u{i}", KnownSessions.Start.AddSeconds(i))
                .Shown($"{appId}-g{i}-a", $"Question {i}?", $"Short answer {i}.", set)
                .Shown($"{appId}-g{i}-b", $"Question {i}?", $"Answer {i}, with an example.", set)
                .Shown($"{appId}-g{i}-c", $"Question {i}?", $"Well, {i} depends.", set)
                .Add(new ComparisonChosen(set, $"{appId}-g{i}-b")).End().Events)
            {
                yield return evt;
            }
        }
    }

    private static async Task ProduceAsync(PipelineHarness harness, string appId, int sessions)
    {
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = appId }, new KafkaFeedbackTransport(harness.Cluster.BootstrapServers, harness.Topic));
        foreach (var evt in Sessions(appId, sessions)) Assert.True(client.Track(evt));
        Assert.True(await client.FlushAsync(Deadline));
    }

    private static List<Dictionary<string, string>> ReadDeadLetters(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "dlq-reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(KafkaTopics.DeadLetters, 0, Offset.Beginning));
        var letters = new List<Dictionary<string, string>>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the end of {KafkaTopics.DeadLetters} was not reached within 30 s; {letters.Count} read");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null) continue;
            if (result.IsPartitionEOF) return letters;
            letters.Add(result.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes())));
        }
    }
}
