using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Embedded;

namespace FeedbackLoop.IntegrationTests;

public sealed class EmbeddedClusterTests
{
    // Generous: two cores shared with other test classes; a healthy run takes a few seconds.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void Keyed_messages_produced_idempotently_come_back_through_a_consumer_group_from_every_partition()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3, eventPartitions: KafkaTopics.DefaultEventPartitions);
        var sent = Enumerable.Range(0, 1000).ToDictionary(i => $"session-{i:D4}", i => $"value-{i}");

        using (var producer = NewProducer(cluster.BootstrapServers))
        {
            var failures = new ConcurrentQueue<Error>();
            foreach (var (key, value) in sent)
            {
                producer.Produce(KafkaTopics.Events, new Message<string, string> { Key = key, Value = value }, report =>
                {
                    if (report.Error.IsError)
                    {
                        failures.Enqueue(report.Error);
                    }
                });
            }

            Assert.Equal(0, producer.Flush(Deadline));
            Assert.Empty(failures);
        }

        var received = new Dictionary<string, string>();
        var partitionsSeen = new HashSet<int>();
        var consumed = 0;
        using (var consumer = NewConsumer(cluster.BootstrapServers, groupId: $"embedded-test-{Guid.NewGuid():N}"))
        {
            consumer.Subscribe(KafkaTopics.Events);
            var clock = Stopwatch.StartNew();
            while (received.Count < sent.Count && clock.Elapsed < Deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
                {
                    consumed++;
                    received[result.Message.Key] = result.Message.Value;
                    partitionsSeen.Add(result.Partition.Value);
                }
            }

            consumer.Close();
        }

        Assert.Equal(sent.Count, consumed);
        Assert.Equal(sent.OrderBy(p => p.Key), received.OrderBy(p => p.Key));
        Assert.Equal(Enumerable.Range(0, KafkaTopics.DefaultEventPartitions), partitionsSeen.Order());
    }

    [Fact]
    public void Metadata_shows_the_events_topic_with_six_partitions_and_the_dead_letters_with_one()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3, eventPartitions: 6);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

        var metadata = admin.GetMetadata(Deadline);

        Assert.Equal(3, metadata.Brokers.Count);
        var events = Assert.Single(metadata.Topics, t => t.Topic == KafkaTopics.Events);
        Assert.Equal(6, events.Partitions.Count);
        Assert.All(events.Partitions, p => Assert.Equal(3, p.Replicas.Length));
        var deadLetters = Assert.Single(metadata.Topics, t => t.Topic == KafkaTopics.DeadLetters);
        Assert.Single(deadLetters.Partitions);
    }

    [Fact]
    public void Creating_an_existing_topic_fails_with_librdkafkas_reason()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 2);

        var error = Assert.Throws<KafkaException>(() => cluster.CreateTopic(KafkaTopics.Events, 2, 1));

        Assert.Equal(ErrorCode.TopicAlreadyExists, error.Error.Code);
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disposing_twice_is_harmless_and_later_calls_are_refused()
    {
        var cluster = EmbeddedKafkaCluster.Start(brokers: 1);

        cluster.Dispose();
        cluster.Dispose();

        Assert.Throws<ObjectDisposedException>(() => cluster.SetBrokerDown(1));
    }

    [Fact]
    public async Task Messages_for_a_downed_leader_wait_and_are_all_delivered_once_it_is_back()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 3, eventPartitions: 6);
        // Leaders are placed at random, so the broker to take down is read rather than assumed:
        // partition 0's leader is sure to lead at least one partition.
        HashSet<int> ledByDownedBroker;
        int downedBroker;
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            var partitions = admin.GetMetadata(KafkaTopics.Events, Deadline).Topics.Single().Partitions;
            downedBroker = partitions.Single(p => p.PartitionId == 0).Leader;
            ledByDownedBroker = partitions.Where(p => p.Leader == downedBroker).Select(p => p.PartitionId).ToHashSet();
        }

        cluster.SetBrokerDown(downedBroker);

        const int count = 600;
        var deliveredTo = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<Error>();
        using var producer = NewProducer(cluster.BootstrapServers, reconnectBackoffMaxMs: 500);
        for (var i = 0; i < count; i++)
        {
            var index = i;
            // Explicit partitions make it certain which messages are waiting on the downed broker.
            var partition = new TopicPartition(KafkaTopics.Events, new Partition(i % 6));
            producer.Produce(partition, new Message<string, string> { Key = $"session-{i}", Value = index.ToString(CultureInfo.InvariantCulture) }, report =>
            {
                if (report.Error.IsError)
                {
                    failures.Enqueue(report.Error);
                }
                else
                {
                    deliveredTo[index] = report.Partition.Value;
                }
            });
        }

        var deliverableWhileDown = Enumerable.Range(0, count).Count(i => !ledByDownedBroker.Contains(i % 6));
        Assert.True(await Eventually.TrueAsync(() => deliveredTo.Count == deliverableWhileDown, Deadline), $"delivered {deliveredTo.Count} of {deliverableWhileDown} while broker {downedBroker} was down");
        Assert.DoesNotContain(deliveredTo.Values, ledByDownedBroker.Contains);

        cluster.SetBrokerUp(downedBroker);

        Assert.True(await Eventually.TrueAsync(() => deliveredTo.Count == count, Deadline), $"delivered {deliveredTo.Count} of {count} after broker {downedBroker} came back");
        Assert.Empty(failures);

        // Read back by assignment, with no group to join: the log must hold every value.
        var values = new HashSet<string>();
        using var consumer = NewConsumer(cluster.BootstrapServers, groupId: $"embedded-test-{Guid.NewGuid():N}");
        consumer.Assign(Enumerable.Range(0, 6).Select(p => new TopicPartitionOffset(KafkaTopics.Events, p, Offset.Beginning)));
        var clock = Stopwatch.StartNew();
        while (values.Count < count && clock.Elapsed < Deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
            {
                values.Add(result.Message.Value);
            }
        }

        Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(), values.Order());
    }

    [Fact]
    public async Task Broker_command_prints_its_bootstrap_serves_a_round_trip_and_exits_0_on_SIGTERM()
    {
        var stderr = new StringBuilder();
        using var broker = StartBrokerCommand(stderr, "--brokers", "3", "--partitions", "6");
        try
        {
            using var timeout = new CancellationTokenSource(Deadline);
            var firstLine = await broker.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.NotNull(firstLine);
            Assert.StartsWith(BrokerCommand.BootstrapLinePrefix, firstLine, StringComparison.Ordinal);
            var bootstrapServers = firstLine[BrokerCommand.BootstrapLinePrefix.Length..];
            Assert.Equal(3, bootstrapServers.Split(',').Length);

            DeliveryResult<string, string> delivered;
            using (var producer = NewProducer(bootstrapServers))
            {
                delivered = await producer.ProduceAsync(KafkaTopics.Events, new Message<string, string> { Key = "session-1", Value = "hello" }, timeout.Token);
            }

            using (var consumer = NewConsumer(bootstrapServers, groupId: $"embedded-test-{Guid.NewGuid():N}"))
            {
                consumer.Assign(delivered.TopicPartitionOffset);
                var result = consumer.Consume(Deadline);
                Assert.NotNull(result);
                Assert.Equal(("session-1", "hello"), (result.Message.Key, result.Message.Value));
            }

            SendSigterm(broker.Id);
            await broker.WaitForExitAsync(timeout.Token);
            Assert.True(broker.ExitCode == 0, $"exit code {broker.ExitCode}; stderr:{Environment.NewLine}{stderr}");
        }
        finally
        {
            if (!broker.HasExited)
            {
                broker.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData(Libc.Sigterm)]
    [InlineData(Libc.Sigint)]
    public async Task Broker_command_exits_0_when_signalled_as_soon_as_its_bootstrap_line_is_read(int signal)
    {
        // Guards the window between the bootstrap line and the first await of the command's action,
        // before System.CommandLine has registered its own signal handlers.
        var stderr = new StringBuilder();
        using var broker = StartBrokerCommand(stderr, "--brokers", "1", "--partitions", "1");
        try
        {
            using var timeout = new CancellationTokenSource(Deadline);
            var firstLine = await broker.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.StartsWith(BrokerCommand.BootstrapLinePrefix, firstLine, StringComparison.Ordinal);

            SendSignal(broker.Id, signal);
            await broker.WaitForExitAsync(timeout.Token);

            Assert.True(broker.ExitCode == 0, $"exit code {broker.ExitCode}; stderr:{Environment.NewLine}{stderr}");
        }
        finally
        {
            if (!broker.HasExited)
            {
                broker.Kill(entireProcessTree: true);
            }
        }
    }

    private static Process StartBrokerCommand(StringBuilder stderr, params string[] options)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CliAssemblyPath());
        start.ArgumentList.Add("broker");
        foreach (var option in options)
        {
            start.ArgumentList.Add(option);
        }

        var broker = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        // Drained continuously so a chatty broker never blocks on a full pipe; kept for failure messages.
        broker.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        broker.BeginErrorReadLine();
        return broker;
    }

    private static IProducer<string, string> NewProducer(string bootstrapServers, int? reconnectBackoffMaxMs = null) =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            ReconnectBackoffMaxMs = reconnectBackoffMaxMs,
        }).Build();

    private static IConsumer<string, string> NewConsumer(string bootstrapServers, string groupId) =>
        new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();

    // The test project references the CLI, so its build copies feedbackloop.dll (with its
    // runtimeconfig and deps files) next to the test assembly.
    private static string CliAssemblyPath()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "feedbackloop.dll");
        Assert.True(File.Exists(path), $"{path} is missing: build tests/FeedbackLoop.IntegrationTests, which references the CLI.");
        return path;
    }

    // dotnet test exports the host it runs under; fall back to the one on PATH.
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    // Process.Kill sends SIGKILL, which would bypass the graceful shutdown under test.
    private static void SendSigterm(int processId) => SendSignal(processId, Libc.Sigterm);

    // kill(2) directly rather than through /bin/kill: spawning kill takes milliseconds, long enough
    // to hide a signal that arrives while the broker is still between printing and listening.
    private static void SendSignal(int processId, int signal) =>
        Assert.True(Libc.Kill(processId, signal) == 0, $"kill({processId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");

    private static class Libc
    {
        public const int Sigint = 2;
        public const int Sigterm = 15;

        // DllImport, not LibraryImport: the source generator needs AllowUnsafeBlocks, which this
        // project does not set, and two int arguments need no marshalling code anyway.
#pragma warning disable SYSLIB1054 // Use LibraryImport: see above.
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int sig);
#pragma warning restore SYSLIB1054
    }
}
