using System.Runtime.InteropServices;
using Confluent.Kafka;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Kafka.Embedded;

/// <summary>
/// A Kafka-protocol cluster hosted in this process by librdkafka's mock cluster: real brokers on
/// loopback ports that any Kafka client (other processes and <c>kcat</c> included) can reach through
/// <see cref="BootstrapServers"/>. For development and tests, not production: it keeps only the last
/// ~5 MiB / 100k messages per partition, supports no CreateTopics admin request and does not
/// de-duplicate idempotent-producer retries.
/// </summary>
/// <remarks>
/// There is no finalizer on purpose: destroying the cluster joins its threads, which must not happen
/// on the finalizer thread. An undisposed cluster lives until the process exits.
/// </remarks>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private static readonly (string Name, string Value)[] HostSettings =
    [
        ("client.id", "feedbackloop-embedded-cluster"),
        // Warnings and errors only: the host handle never connects anywhere, so its notice that
        // bootstrap.servers is unset would only mislead whoever reads stderr.
        ("log_level", "4"),
    ];

    // Serializes native calls with Dispose, so no call can reach a destroyed handle.
    private readonly Lock _lock = new();

    // rd_kafka_t that owns the mock cluster; it must outlive _mockCluster.
    private nint _host;

    // rd_kafka_mock_cluster_t; zero once disposed.
    private nint _mockCluster;

    private EmbeddedKafkaCluster(nint host, nint mockCluster, int brokerCount, string bootstrapServers)
    {
        _host = host;
        _mockCluster = mockCluster;
        BrokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated <c>host:port</c> of every broker, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; their ids run from 1 to this value.</summary>
    public int BrokerCount { get; }

    /// <summary>Starts a cluster with no topics.</summary>
    /// <param name="brokers">Number of brokers, at least 1.</param>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded; the message lists what was tried.</exception>
    /// <exception cref="KafkaException">librdkafka refused to create the host handle or the cluster.</exception>
    public static unsafe EmbeddedKafkaCluster Start(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        Librdkafka.EnsureLoaded();

        const int errorSize = 512;
        var error = stackalloc byte[errorSize];

        var conf = LibrdkafkaImports.rd_kafka_conf_new();
        foreach (var (name, value) in HostSettings)
        {
            if (LibrdkafkaImports.rd_kafka_conf_set(conf, name, value, error, errorSize) != LibrdkafkaImports.ConfOk)
            {
                LibrdkafkaImports.rd_kafka_conf_destroy(conf);
                throw new KafkaException(new Error(ErrorCode.Local_InvalidArg, $"Setting {name} on the embedded cluster's host handle failed: {Marshal.PtrToStringUTF8((nint)error)}"));
            }
        }

        var host = LibrdkafkaImports.rd_kafka_new(LibrdkafkaImports.ProducerType, conf, error, errorSize);
        if (host == 0)
        {
            // rd_kafka_new took ownership of conf only had it succeeded.
            LibrdkafkaImports.rd_kafka_conf_destroy(conf);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "Creating the embedded cluster's host handle failed: " + Marshal.PtrToStringUTF8((nint)error)));
        }

        var mockCluster = LibrdkafkaImports.rd_kafka_mock_cluster_new(host, brokers);
        if (mockCluster == 0)
        {
            LibrdkafkaImports.rd_kafka_destroy(host);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"librdkafka could not start a mock cluster of {brokers} brokers (see its log on stderr)."));
        }

        var bootstrapServers = Marshal.PtrToStringUTF8(LibrdkafkaImports.rd_kafka_mock_cluster_bootstraps(mockCluster)) ?? string.Empty;
        return new EmbeddedKafkaCluster(host, mockCluster, brokers, bootstrapServers);
    }

    /// <summary>
    /// Starts a cluster holding FeedbackLoop's topics: <see cref="KafkaTopics.Events"/> with
    /// <paramref name="eventPartitions"/> partitions and <see cref="KafkaTopics.DeadLetters"/> with
    /// <see cref="KafkaTopics.DefaultDeadLetterPartitions"/>, both replicated to min(3, brokers).
    /// </summary>
    /// <param name="brokers">Number of brokers, at least 1.</param>
    /// <param name="eventPartitions">Partition count of the events topic, at least 1.</param>
    public static EmbeddedKafkaCluster StartWithFeedbackLoopTopics(int brokers = 3, int eventPartitions = KafkaTopics.DefaultEventPartitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(eventPartitions, 1);
        var cluster = Start(brokers);
        try
        {
            // Production runs RF 3; fewer brokers cannot hold three replicas.
            var replicationFactor = Math.Min(3, brokers);
            cluster.CreateTopic(KafkaTopics.Events, eventPartitions, replicationFactor);
            cluster.CreateTopic(KafkaTopics.DeadLetters, KafkaTopics.DefaultDeadLetterPartitions, replicationFactor);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a topic. Create topics before clients subscribe: otherwise a client's metadata request
    /// auto-creates the topic with the mock cluster's defaults.
    /// </summary>
    /// <exception cref="KafkaException">librdkafka's error, e.g. <see cref="ErrorCode.TopicAlreadyExists"/>.</exception>
    public void CreateTopic(string name, int partitions, int replicationFactor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, BrokerCount);

        lock (_lock)
        {
            ThrowIfDisposed();
            ThrowOnError(LibrdkafkaImports.rd_kafka_mock_topic_create(_mockCluster, name, partitions, replicationFactor), $"Creating topic '{name}'");
        }
    }

    /// <summary>
    /// Takes a broker down: its connections close and new ones are refused. Leadership does not move,
    /// so the partitions it leads are unavailable until <see cref="SetBrokerUp"/>.
    /// </summary>
    /// <param name="brokerId">1 to <see cref="BrokerCount"/>.</param>
    public void SetBrokerDown(int brokerId) => ChangeBroker(brokerId, up: false);

    /// <summary>Brings a broker taken down by <see cref="SetBrokerDown"/> back.</summary>
    /// <param name="brokerId">1 to <see cref="BrokerCount"/>.</param>
    public void SetBrokerUp(int brokerId) => ChangeBroker(brokerId, up: true);

    /// <summary>Stops every broker and frees the cluster; idempotent.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_mockCluster == 0)
            {
                return;
            }

            // The cluster belongs to the host handle, so it goes first.
            LibrdkafkaImports.rd_kafka_mock_cluster_destroy(_mockCluster);
            LibrdkafkaImports.rd_kafka_destroy(_host);
            _mockCluster = 0;
            _host = 0;
        }
    }

    private void ChangeBroker(int brokerId, bool up)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerId, BrokerCount);

        lock (_lock)
        {
            ThrowIfDisposed();
            var err = up
                ? LibrdkafkaImports.rd_kafka_mock_broker_set_up(_mockCluster, brokerId)
                : LibrdkafkaImports.rd_kafka_mock_broker_set_down(_mockCluster, brokerId);
            ThrowOnError(err, $"Setting broker {brokerId} {(up ? "up" : "down")}");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_mockCluster == 0, this);

    private static void ThrowOnError(int err, string action)
    {
        if (err != 0)
        {
            throw new KafkaException(new Error((ErrorCode)err, $"{action} on the embedded cluster failed: {LibrdkafkaImports.ErrorText(err)}"));
        }
    }
}
