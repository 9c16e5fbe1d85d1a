using System.CommandLine;
using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using FeedbackLoop.Collector;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop bench collector</c>: SDK-shaped gzip batches of 100 events posted over loopback by several clients
/// at once, against the collector (keys, validation, Kafka with acks=all, the durable answer) and, in the same run,
/// against a bare Kestrel endpoint that reads, inflates and parses the same bodies and throws them away. The ratio
/// is the price of validation, Kafka and the durable answer. A third run, Kafka alone, sends the same events through the
/// collector's producer with nothing in front of it, to show how much of that price Kafka is (docs/BENCHMARKS.md).
/// </summary>
internal static class BenchCollector
{
    private const int EventsPerBatch = 100;

    public static Command Create()
    {
        // A durable answer waits for Kafka (linger, acks=all): with few clients the collector sits idle between answers
        // and the run measures that wait, not its cost. 64 keeps both endpoints busy on 2 cores, as many SDKs would.
        var clients = new Option<int>("--clients") { Description = "Concurrent clients (connections), the same for both endpoints.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<int>("--seconds") { Description = "Measured seconds per endpoint (after a warm-up of a third of it).", DefaultValueFactory = _ => 15 };
        var linger = new Option<int>("--linger-ms") { Description = "The collector's KafkaLinger, in milliseconds (its default unless given).", DefaultValueFactory = _ => -1 };
        var output = new Option<FileInfo>("--out") { Description = "Where to write the JSON result.", DefaultValueFactory = _ => new FileInfo("bench-results/collector.json") };
        var bootstrap = new Option<string?>("--bootstrap")
        {
            Description = "Kafka to produce to instead of an embedded cluster in the bench's process (its events topic must exist), so the brokers' CPU is not counted.",
        };
        var command = new Command("collector", "Measure the collector (events/s, p99) against a bare Kestrel endpoint that only parses the same bodies.") { clients, seconds, linger, output, bootstrap };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(clients), parse.GetValue(seconds), parse.GetValue(linger), parse.GetValue(bootstrap), parse.GetValue(output)!,
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(int clients, int seconds, int lingerMs, string? bootstrap, FileInfo output, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (clients < 1 || seconds < 1)
        {
            await stderr.WriteLineAsync("--clients and --seconds must be positive.").ConfigureAwait(false);
            return 2;
        }
        var folder = Directory.CreateTempSubdirectory("feedbackloop-bench-collector-");
        try
        {
            using var cluster = bootstrap is null ? EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3, eventPartitions: 12) : null;
            var keysFile = Path.Combine(folder.FullName, "keys.json");
            var key = new WriteKeyFile(keysFile).Create("bench", DateTimeOffset.UtcNow).Key;
            var bodies = Bodies(64);
            await stderr.WriteLineAsync($"{bodies.Length} gzip bodies of {EventsPerBatch} events, {bodies.Average(b => b.Length) / 1024:0.0} KiB each on the wire; {clients} clients").ConfigureAwait(false);

            var bare = BareEndpoint();
            await bare.StartAsync(ct).ConfigureAwait(false);
            var options = new CollectorOptions { BootstrapServers = cluster?.BootstrapServers ?? bootstrap!, KeysFile = keysFile };
            if (lingerMs >= 0) options = options with { KafkaLinger = TimeSpan.FromMilliseconds(lingerMs) };
            var collector = CollectorServe.Build(options, "http://127.0.0.1:0");
            await collector.StartAsync(ct).ConfigureAwait(false);
            try
            {
                var bareUrl = new Uri(new Uri(CollectorServe.ListeningUrl(bare)), BatchEndpoint.Path);
                var collectorUrl = new Uri(new Uri(CollectorServe.ListeningUrl(collector)), BatchEndpoint.Path);
                var warm = TimeSpan.FromSeconds(Math.Max(1, seconds / 3));
                var measured = TimeSpan.FromSeconds(seconds);
                await LoadAsync(bareUrl, key, bodies, clients, warm, ct).ConfigureAwait(false);
                var bareRun = await LoadAsync(bareUrl, key, bodies, clients, measured, ct).ConfigureAwait(false);
                await stderr.WriteLineAsync($"  bare kestrel: {bareRun.EventsPerSecond:N0} events/s, p99 {bareRun.P99Ms:0.0} ms, {bareRun.CpuMicrosPerEvent:0.00} CPU µs/event").ConfigureAwait(false);
                await LoadAsync(collectorUrl, key, bodies, clients, warm, ct).ConfigureAwait(false);
                var run = await LoadAsync(collectorUrl, key, bodies, clients, measured, ct).ConfigureAwait(false);
                await stderr.WriteLineAsync($"  collector:    {run.EventsPerSecond:N0} events/s, p99 {run.P99Ms:0.0} ms, {run.CpuMicrosPerEvent:0.00} CPU µs/event, {run.Refused} requests not answered 200").ConfigureAwait(false);
                // The collector's Kafka path alone, for reference: what the durable answer costs before any HTTP or validation.
                var batches = KafkaBatches(64);
                await KafkaOnlyAsync(options, batches, clients, warm, ct).ConfigureAwait(false);
                var kafkaRun = await KafkaOnlyAsync(options, batches, clients, measured, ct).ConfigureAwait(false);
                await stderr.WriteLineAsync($"  kafka alone:  {kafkaRun.EventsPerSecond:N0} events/s, {kafkaRun.CpuMicrosPerEvent:0.00} CPU µs/event, {kafkaRun.Refused} batches not acknowledged").ConfigureAwait(false);

                var result = new JsonObject
                {
                    ["events_per_s"] = Math.Round(run.EventsPerSecond),
                    ["bare_events_per_s"] = Math.Round(bareRun.EventsPerSecond),
                    ["p99_ms"] = Math.Round(run.P99Ms, 1),
                    ["machine"] = BenchCommand.Machine(),
                    ["clients"] = clients,
                    ["events_per_batch"] = EventsPerBatch,
                    ["seconds"] = seconds,
                    ["not_200"] = run.Refused,
                    ["kafka_linger_ms"] = options.KafkaLinger.TotalMilliseconds,
                    ["brokers"] = cluster is null ? "outside the bench's process" : "embedded, in the bench's process",
                    ["cpu_us_per_event"] = Math.Round(run.CpuMicrosPerEvent, 2),
                    ["bare_cpu_us_per_event"] = Math.Round(bareRun.CpuMicrosPerEvent, 2),
                    // The same events sent through the collector's producer by the bench itself: no HTTP, no gzip, no validation.
                    ["kafka_only_events_per_s"] = Math.Round(kafkaRun.EventsPerSecond),
                    ["kafka_only_cpu_us_per_event"] = Math.Round(kafkaRun.CpuMicrosPerEvent, 2),
                };
                output.Directory?.Create();
                await File.WriteAllTextAsync(output.FullName, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", ct).ConfigureAwait(false);
                await stdout.WriteLineAsync($"| {clients} clients × {EventsPerBatch}-event gzip batches | {run.EventsPerSecond:N0} events/s collector (p99 {run.P99Ms:0.0} ms) | {bareRun.EventsPerSecond:N0} events/s bare Kestrel | {run.EventsPerSecond / bareRun.EventsPerSecond:P0} of bare | {BenchCommand.Machine()} |").ConfigureAwait(false);
                return run.Refused == 0 ? 0 : 1;
            }
            finally
            {
                await collector.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await collector.DisposeAsync().ConfigureAwait(false);
                await bare.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await bare.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Reads, inflates and parses each body into JSON, then discards it: what any JSON endpoint pays.</summary>
    private static WebApplication BareEndpoint()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost(BatchEndpoint.Path, async (HttpContext context) =>
        {
            var gzip = new GZipStream(context.Request.Body, CompressionMode.Decompress);
            await using (gzip.ConfigureAwait(false))
            {
                using var document = await JsonDocument.ParseAsync(gzip, cancellationToken: context.RequestAborted).ConfigureAwait(false);
                return Results.Text($"{{\"accepted\":{document.RootElement.GetArrayLength()},\"rejected\":[]}}", "application/json");
            }
        });
        return app;
    }

    /// <summary>
    /// One measured run. <c>CpuMicrosPerEvent</c> is this process's CPU time (clients, server and, for the collector, the
    /// in-process Kafka cluster) per event answered: unlike events/s it barely moves when other work shares the cores.
    /// </summary>
    private sealed record LoadResult(double EventsPerSecond, double P99Ms, long Refused, double CpuMicrosPerEvent);

    private static async Task<LoadResult> LoadAsync(Uri url, string key, byte[][] bodies, int clients, TimeSpan duration, CancellationToken ct)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { Timeout = TimeSpan.FromSeconds(30) };
        var latencies = new List<double>[clients];
        for (var c = 0; c < clients; c++) latencies[c] = [];
        var (eventsPerSecond, refused, cpuPerEvent) = await RunClientsAsync(clients, duration, async (c, i) =>
        {
            using var content = new ByteArrayContent(bodies[i % bodies.Length]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            content.Headers.ContentEncoding.Add("gzip");
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var started = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            var answer = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            latencies[c].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return response.IsSuccessStatusCode && JsonDocument.Parse(answer).RootElement.GetProperty("accepted").GetInt32() == EventsPerBatch ? EventsPerBatch : 0;
        }, ct).ConfigureAwait(false);
        var all = latencies.SelectMany(l => l).Order().ToList();
        var p99 = all.Count == 0 ? 0 : all[Math.Min(all.Count - 1, (int)Math.Ceiling(all.Count * 0.99) - 1)];
        return new LoadResult(eventsPerSecond, p99, refused, cpuPerEvent);
    }

    /// <summary>
    /// The collector's Kafka path with nothing in front of it: <paramref name="clients"/> senders each hand a batch of
    /// already accepted events to the collector's producer (<see cref="KafkaDelivery"/>, the same settings) and wait for
    /// Kafka's acknowledgement of all of them, as a request does before its answer. No collector can spend less per event
    /// than this on the same cores, however cheap its HTTP and validation.
    /// </summary>
    private static async Task<LoadResult> KafkaOnlyAsync(CollectorOptions options, (byte[] Body, List<AcceptedEvent> Events)[] batches, int clients, TimeSpan duration, CancellationToken ct)
    {
        using var delivery = new KafkaDelivery(options);
        var (eventsPerSecond, failed, cpuPerEvent) = await RunClientsAsync(clients, duration, async (_, i) =>
        {
            var (body, events) = batches[i % batches.Length];
            return await delivery.SendAsync(body, events, []).ConfigureAwait(false) ? events.Count : 0;
        }, ct).ConfigureAwait(false);
        return new LoadResult(eventsPerSecond, 0, failed, cpuPerEvent);
    }

    /// <summary>
    /// <paramref name="clients"/> concurrent senders for <paramref name="duration"/>; client c sends batch c, c + clients, … and
    /// <paramref name="send"/> says how many of its events counted (0: the batch failed). Events/s, batches that failed, and
    /// this process's CPU time per event counted.
    /// </summary>
    private static async Task<(double EventsPerSecond, long Failed, double CpuMicrosPerEvent)> RunClientsAsync(
        int clients, TimeSpan duration, Func<int, int, Task<int>> send, CancellationToken ct)
    {
        long counted = 0, failed = 0;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            for (var i = c; clock.Elapsed < duration && !ct.IsCancellationRequested; i += clients)
            {
                var events = await send(c, i).ConfigureAwait(false);
                if (events > 0) Interlocked.Add(ref counted, events);
                else Interlocked.Increment(ref failed);
            }
        })).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        return (counted / elapsed, failed, counted == 0 ? 0 : cpu.TotalMicroseconds / counted);
    }

    /// <summary>The bench's events as the collector hands them to Kafka once accepted: a body, and each event's bytes in it and key.</summary>
    private static (byte[] Body, List<AcceptedEvent> Events)[] KafkaBatches(int count) =>
        [.. Events(count).Select(batch =>
        {
            var body = new MemoryStream();
            var events = new List<AcceptedEvent>(EventsPerBatch);
            foreach (var evt in batch)
            {
                var bytes = EventJson.SerializeToUtf8Bytes(evt);
                events.Add(new AcceptedEvent(new BatchElement((int)body.Length, bytes.Length), evt.SessionId));
                body.Write(bytes);
            }
            return (body.ToArray(), events);
        })];

    /// <summary>Batches as the SDK sends them: the events' own JSON in an array, gzip at the fastest level.</summary>
    private static byte[][] Bodies(int count) =>
        [.. Events(count).Select(batch =>
        {
            var buffer = new MemoryStream();
            using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.WriteByte((byte)'[');
                for (var i = 0; i < batch.Length; i++)
                {
                    if (i > 0) gzip.WriteByte((byte)',');
                    gzip.Write(EventJson.SerializeToUtf8Bytes(batch[i]));
                }
                gzip.WriteByte((byte)']');
            }
            return buffer.ToArray();
        })];

    /// <summary>The bench's events, <see cref="EventsPerBatch"/> a batch: half shown generations, half thumbs up on them, ten to a session.</summary>
    private static IEnumerable<FeedbackEvent[]> Events(int count)
    {
        var now = DateTimeOffset.UtcNow;
        var prompt = new[] { new ConversationTurn("user", "How do I reset my password?") };
        return Enumerable.Range(0, count).Select(b => Enumerable.Range(0, EventsPerBatch).Select(i =>
        {
            var n = b * EventsPerBatch + i;
            EventData data = (i % 2) == 0
                ? new GenerationShown("g" + n, "m1", prompt, "Open Settings, then Security, then Reset password.")
                : new ThumbGiven("g" + (n - 1), ThumbValue.Up);
            return new FeedbackEvent($"e{n}", "bench", "s" + (n / 10), "u" + (n / 10), now, data);
        }).ToArray());
    }
}
