using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Collector;
using FeedbackLoop.Contracts;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The collector's command-line contracts, as processes: <c>keys create</c> prints <c>key=&lt;secret&gt;</c> first and
/// nothing else of the secret; <c>serve --role collector</c> prints <c>listening=&lt;url&gt;</c> first (the real port for
/// port 0), takes a batch into Kafka, and stops on SIGTERM with 0, no key in anything it wrote.
/// </summary>
[Collection(CollectorTests.Collection)]
public sealed class CollectorProcessTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 1);
    private readonly TempFolder _folder = new("collector-process");

    [Fact]
    public async Task Keys_create_then_serve_collector_print_their_first_lines_take_a_batch_and_stop_on_SIGTERM()
    {
        var keysFile = _folder.Combine("keys.json");
        string key;
        using (var create = CliProcess.Start("keys", "create", "--app", "demo", "--keys", keysFile))
        {
            var first = await create.FirstStdoutLineAsync(Deadline);
            Assert.Equal(0, await create.ExitAsync(Deadline));
            Assert.StartsWith(KeysCommand.KeyLinePrefix, first, StringComparison.Ordinal);
            key = first[KeysCommand.KeyLinePrefix.Length..];
            Assert.NotNull(Collector.Keys.WriteKey.IdOf(key));
        }
        Assert.DoesNotContain(key, await File.ReadAllTextAsync(keysFile), StringComparison.Ordinal);
        using (var list = CliProcess.Start("keys", "list", "--keys", keysFile))
        {
            Assert.Equal(0, await list.ExitAsync(Deadline));
            Assert.Contains("  demo  ", list.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(key[^Collector.Keys.WriteKey.SecretLength..], list.Output, StringComparison.Ordinal);
        }

        using var collector = CliProcess.Start("serve", "--role", "collector", "--bootstrap", _cluster.BootstrapServers, "--keys", keysFile, "--urls", "http://127.0.0.1:0");
        var line = await collector.FirstStdoutLineAsync(Deadline);
        Assert.Matches(@"^listening=http://127\.0\.0\.1:[1-9][0-9]*$", line);
        var url = new Uri(line[CollectorServe.ListeningLinePrefix.Length..]);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(url, CollectorHost.HealthPath))).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, BatchEndpoint.Path))
        {
            Content = new StringContent(CollectorEvents.Batch(CollectorEvents.Thumb("p-1"), CollectorEvents.Thumb("p-2", app: "other")), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal((HttpStatusCode.OK, 1, 1), (response.StatusCode, answer.GetProperty("accepted").GetInt32(), answer.GetProperty("rejected").GetArrayLength()));
        var onTopic = HostileRecords.ReadDeadLetters(_cluster.BootstrapServers, KafkaTopics.Events);
        Assert.Equal("p-1", JsonDocument.Parse(Assert.Single(onTopic).Value).RootElement.GetProperty("event_id").GetString());
        Assert.Equal("s1", onTopic[0].Key);

        var (exit, _) = await collector.TerminateAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, exit);
        Assert.DoesNotContain(key[^Collector.Keys.WriteKey.SecretLength..], collector.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _folder.Dispose();
    }
}
