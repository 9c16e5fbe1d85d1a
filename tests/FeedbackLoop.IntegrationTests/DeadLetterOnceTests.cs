using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Dead letters exactly once (issue 11, ADR 0012): <c>broker</c> and <c>extract</c> as processes, a stream of interleaved
/// sessions with malformed records, <c>extract</c> SIGKILLed mid-stream and restarted; every malformed record is in the
/// dead-letter topic once, and every pair once.
/// </summary>
public sealed class DeadLetterOnceTests : IDisposable
{
    private const int Sigkill = 9;
    private const int Kills = 3;
    // Sessions that open at the start of the stream and choose only at its end: they hold the committed offsets at the
    // stream's start, so every restart replays everything read before it (the window dead letters could be doubled in).
    private const int LongSessions = 8;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "feedbackloop-dlq-once-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public async Task Extract_SIGKILLed_three_times_mid_stream_dead_letters_each_malformed_record_once_and_writes_each_pair_once()
    {
        var data = Path.Combine(_root, "data");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "4");
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        var stream = new Stream(producer);
        stream.OpenLongSessions();

        using var stopStreaming = new CancellationTokenSource();
        var streaming = Task.Run(() => stream.RunAsync(stopStreaming.Token));
        for (var kill = 0; kill < Kills; kill++)
        {
            var before = DeadLetterCount(bootstrap);
            using var extract = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data);
            // Killed as soon as this run has dead-lettered something, while records still arrive: the run's dead letters
            // are newer than its last progress mark, so the next run replays them.
            Assert.True(await Eventually.TrueAsync(() => DeadLetterCount(bootstrap) > before, Deadline, TimeSpan.FromMilliseconds(50)),
                $"run {kill + 1} dead-lettered nothing:\n{extract.Output}");
            Assert.False(streaming.IsCompleted, "the stream ended before the kill; it must be killed mid-stream");
            Assert.True(Libc.Kill(extract.Id, Sigkill) == 0, $"kill failed: errno {Marshal.GetLastPInvokeError()}");
            Assert.Equal(128 + Sigkill, await extract.ExitAsync(Deadline));
        }
        await stopStreaming.CancelAsync();
        await streaming;
        stream.CloseLongSessions();

        using (var last = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3"))
        {
            var exit = await last.ExitAsync(TimeSpan.FromSeconds(120));
            Assert.True(exit == 0, $"exit {exit}:\n{last.Output}");
        }

        var deadLetters = ReadDeadLetters(bootstrap);
        Assert.True(stream.Malformed.Count >= Kills, $"only {stream.Malformed.Count} malformed records were streamed");
        var doubled = deadLetters.GroupBy(d => d.Source).Where(g => g.Count() > 1).Select(g => $"{g.Key} ×{g.Count()}").ToList();
        Assert.True(doubled.Count == 0, $"{deadLetters.Count} dead letters for {stream.Malformed.Count} malformed records; {doubled.Count} doubled, e.g. {string.Join(", ", doubled.Take(5))}");
        Assert.Equal(stream.Malformed.Order(StringComparer.Ordinal), deadLetters.Select(d => d.Key).Order(StringComparer.Ordinal));
        Assert.All(deadLetters, d => Assert.StartsWith(KafkaTopics.Events + "/", d.Source, StringComparison.Ordinal));

        var pairs = await DatasetReader.ReadPairsAsync(data, "demo");
        Assert.Equal(stream.Sessions, pairs.Count);
        Assert.Equal(stream.Sessions, pairs.Select(p => p.PairId).Distinct().Count());
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("c1 t1", "feedbackloop.events.v1/3/42", "feedbackloop.events.v1", 3, 42L)]
    [InlineData("c1 t1", "other.topic/0/0", "other.topic", 0, 0L)]
    // Written for another cluster or topic (a topic created again, a broker reset): never trusted.
    [InlineData("c2 t1", "feedbackloop.events.v1/3/42", null, 0, 0L)]
    [InlineData("c1 t2", "feedbackloop.events.v1/3/42", null, 0, 0L)]
    // Written before dead letters carried an origin: not trusted either, so the record is sent again rather than lost.
    [InlineData(null, "feedbackloop.events.v1/3/42", null, 0, 0L)]
    // Written by an extractor that did not learn the cluster's id.
    [InlineData("", "feedbackloop.events.v1/3/42", null, 0, 0L)]
    [InlineData("c1 t1", null, null, 0, 0L)]
    [InlineData("c1 t1", "feedbackloop.events.v1/3", null, 0, 0L)]
    [InlineData("c1 t1", "feedbackloop.events.v1/x/42", null, 0, 0L)]
    [InlineData("c1 t1", "feedbackloop.events.v1/3/-1", null, 0, 0L)]
    [InlineData("c1 t1", "/3/42", null, 0, 0L)]
    public void A_dead_letter_counts_as_sent_only_with_this_logs_origin_and_a_readable_source(string? origin, string? source, string? topic, int partition, long offset)
    {
        var headers = new Headers();
        if (origin is not null) headers.Add(ExtractionLoop.OriginHeader, Encoding.UTF8.GetBytes(origin));
        if (source is not null) headers.Add(ExtractionLoop.SourceHeader, Encoding.UTF8.GetBytes(source));

        var parsed = DeadLetterTail.ParseSource(headers, Encoding.UTF8.GetBytes("c1 t1"));

        Assert.Equal(topic is null ? null : (topic, partition, offset), parsed);
    }

    /// <summary>Records in the dead-letter topic: the sum of its partitions' high watermarks (nothing is deleted from it here).</summary>
    private static long DeadLetterCount(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "dlq-count" }).Build();
        return DeadLetterPartitions(bootstrap).Sum(p => Math.Max(0, consumer.QueryWatermarkOffsets(new TopicPartition(KafkaTopics.DeadLetters, p), TimeSpan.FromSeconds(10)).High.Value));
    }

    private static List<(string Key, string Source)> ReadDeadLetters(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<string, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "dlq-read", EnablePartitionEof = true }).Build();
        var partitions = DeadLetterPartitions(bootstrap);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(KafkaTopics.DeadLetters, p, Offset.Beginning)));
        var letters = new List<(string, string)>();
        var ended = new HashSet<int>();
        var deadline = DateTime.UtcNow + Deadline;
        while (ended.Count < partitions.Count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            if (result.IsPartitionEOF)
            {
                ended.Add(result.Partition.Value);
                continue;
            }
            letters.Add((result.Message.Key, Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes(ExtractionLoop.SourceHeader))));
        }
        Assert.True(ended.Count == partitions.Count, "the dead-letter topic was not read to its end");
        return letters;
    }

    private static List<int> DeadLetterPartitions(string bootstrap)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        return [.. admin.GetMetadata(KafkaTopics.DeadLetters, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Select(p => p.PartitionId)];
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The events: groups of five sessions whose events interleave, a malformed record after every second group, and the
    /// long sessions around it all. Paced, so the stream is still flowing when each run is killed.
    /// </summary>
    private sealed class Stream(IProducer<string, byte[]> producer)
    {
        private readonly List<FeedbackEvent> _longSessionEnds = [];

        public int Sessions { get; private set; }
        public List<string> Malformed { get; } = [];

        public void OpenLongSessions()
        {
            for (var i = 0; i < LongSessions; i++)
            {
                var script = Session($"long{i}", KnownSessions.Start.AddSeconds(i));
                foreach (var e in script.Events.Take(2)) Send(e);
                _longSessionEnds.AddRange(script.Events.Skip(2));
            }
            Flush();
        }

        public async Task RunAsync(CancellationToken stop)
        {
            for (var group = 0; !stop.IsCancellationRequested; group++)
            {
                // Event times stay within a few minutes of the start (groups are few), so the long sessions stay open.
                var scripts = Enumerable.Range(0, 5).Select(i => Session($"g{group}s{i}", KnownSessions.Start.AddSeconds(10 + group))).ToList();
                for (var step = 0; step < scripts[0].Events.Count; step++)
                {
                    foreach (var script in scripts) Send(script.Events[step]);
                }
                if (group % 2 == 1)
                {
                    var key = $"bad{Malformed.Count}";
                    producer.Produce(KafkaTopics.Events, new Message<string, byte[]> { Key = key, Value = Encoding.UTF8.GetBytes("{\"not json\": " + key) });
                    Malformed.Add(key);
                }
                Flush();
                // Pacing, not synchronisation: the runs are killed on what they did, not on time.
                try { await Task.Delay(TimeSpan.FromMilliseconds(100), stop); } catch (OperationCanceledException) { }
            }
        }

        public void CloseLongSessions()
        {
            foreach (var e in _longSessionEnds) Send(e);
            Flush();
        }

        private SessionScript Session(string id, DateTimeOffset start)
        {
            Sessions++;
            var set = "set-" + id;
            return new SessionScript("demo", id, "u-" + id, start)
                .Shown("a-" + id, $"Question {id}?", $"Answer {id}, short.", set).Shown("b-" + id, $"Question {id}?", $"Answer {id}, long and winding.", set)
                .Add(new ComparisonChosen(set, "a-" + id)).End();
        }

        private void Send(FeedbackEvent e) =>
            producer.Produce(KafkaTopics.Events, new Message<string, byte[]> { Key = e.SessionId, Value = EventJson.SerializeToUtf8Bytes(e) });

        private void Flush() => Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private static class Libc
    {
#pragma warning disable SYSLIB1054 // LibraryImport needs AllowUnsafeBlocks, which this project does not set.
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int sig);
#pragma warning restore SYSLIB1054
    }
}
