using System.Net;
using System.Net.Sockets;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Transports;
using Xunit.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 12, item 6: the SDK (HTTP transport, spool on) → the collector as a process → the embedded cluster →
/// <c>extract</c> → Parquet, with the collector SIGKILLed mid-stream and started again on the same address. Every
/// event is counted exactly once in the datasets (the extractor drops resent copies by <c>event_id</c>), and the
/// SDK's counters add up: everything it took was sent, nothing failed, dropped or was refused.
/// </summary>
[Collection(CollectorTests.Collection)]
public sealed class CollectorEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private const int Events = 3_000;
    private const int Closers = 20;
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 3);
    private readonly TempFolder _folder = new("collector-e2e");

    [Fact]
    public async Task Sdk_to_a_collector_killed_mid_stream_and_restarted_then_extract_counts_every_event_once_and_the_sdk_counters_add_up()
    {
        var keysFile = _folder.Combine("keys.json");
        var key = new WriteKeyFile(keysFile).Create("demo", DateTimeOffset.UtcNow).Key;
        var url = "http://127.0.0.1:" + FreePort();
        string[] serve = ["serve", "--role", "collector", "--bootstrap", _cluster.BootstrapServers, "--keys", keysFile, "--urls", url];
        var collector = CliProcess.Start(serve);
        try
        {
            Assert.Equal(CollectorServe.ListeningLinePrefix + url, await collector.FirstStdoutLineAsync(Deadline));
            await using var client = new FeedbackClient(
                new FeedbackClientOptions
                {
                    AppId = "demo",
                    MaxBatchSize = 100,
                    FlushInterval = TimeSpan.FromMilliseconds(50),
                    Spool = new SpoolOptions { Directory = _folder.Combine("spool") },
                    // A short budget hands an outage to the spool quickly.
                    Retry = new RetryOptions { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(500), TimeBudget = TimeSpan.FromSeconds(2) },
                },
                new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri(url), WriteKey = key, RequestTimeout = TimeSpan.FromSeconds(5) }));

            // Half an hour ago, 10 ms apart: event time the extractor accepts, windows that close once the closers come.
            var start = DateTimeOffset.UtcNow.AddMinutes(-30);
            for (var i = 0; i < Events / 3; i++) Track(client, i, start);
            await Eventually.HoldsAsync(() => client.Counters.Sent >= 200, Deadline, "some events went through the collector");

            collector.KillHard();
            var retriedBefore = client.Counters.Retried;
            for (var i = Events / 3; i < Events; i++) Track(client, i, start);
            // The spool holds every event until it is sent; that sends failed and were retried shows the outage was met.
            await Eventually.HoldsAsync(() => client.Counters.Retried > retriedBefore, Deadline, "the SDK met the dead collector and retried");
            var sentWhileDown = client.Counters.Sent;
            Assert.True(sentWhileDown < Events, "the collector was killed before everything was sent");
            output.WriteLine($"killed: sent {sentWhileDown}, retried {client.Counters.Retried}");

            collector.Dispose();
            collector = CliProcess.Start(serve);
            Assert.Equal(CollectorServe.ListeningLinePrefix + url, await collector.FirstStdoutLineAsync(Deadline));
            // Current events on sessions spread over every partition move event time on, so the extractor closes every window.
            var now = DateTimeOffset.UtcNow;
            for (var c = 0; c < Closers; c++)
            {
                Assert.True(client.Track(new FeedbackEvent("closer-" + c, "demo", "closer-" + c, "u", now, new GenerationShown("gc" + c, "m-closer", SessionScript.Prompt("Later?"), "Later."))));
            }

            await Eventually.HoldsAsync(() => client.Counters.Sent == Events + Closers, Deadline, $"the SDK sent all {Events + Closers} events (sent {client.Counters.Sent})");
            Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal((0L, 0L, 0L), (client.Counters.Rejected, client.Counters.Failed, client.Counters.DroppedTotal()));
            Assert.Equal(client.Counters.Received, client.Counters.Sent);
            output.WriteLine($"sdk: received {client.Counters.Received}, sent {client.Counters.Sent}, spooled {client.Counters.Spooled}, retried {client.Counters.Retried}");

            var data = _folder.Combine("data");
            using (var extract = CliProcess.Start("extract", "--bootstrap", _cluster.BootstrapServers, "--data", data, "--until-idle", "3"))
            {
                var exit = await extract.ExitAsync(TimeSpan.FromMinutes(3));
                Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");
                output.WriteLine(extract.Output);
                Assert.Contains("dead-lettered 0, ", extract.Output, StringComparison.Ordinal);
            }
            var windows = (await DatasetReader.ReadEngagementAsync(data, "demo")).Where(w => w.ModelVersion == "m1").ToList();
            Assert.Equal((long)Events, windows.Sum(w => w.Shown));
            var (exitCode, _) = await collector.TerminateAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, exitCode);
        }
        finally
        {
            collector.Dispose();
        }
    }

    private static void Track(FeedbackClient client, int i, DateTimeOffset start) =>
        Assert.True(client.Track(new FeedbackEvent("e" + i, "demo", "s" + (i % 50), "u" + (i % 50), start.AddMilliseconds(10 * i),
            new GenerationShown("g" + i, "m1", SessionScript.Prompt("Q" + i), "A" + i))));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _folder.Dispose();
    }
}
