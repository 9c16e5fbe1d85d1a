using System.Runtime.InteropServices;

namespace FeedbackLoop.Kafka.Embedded;

/// <summary>
/// The slice of librdkafka's C API (rdkafka.h, rdkafka_mock.h) the embedded cluster needs.
/// Call <see cref="Librdkafka.EnsureLoaded"/> before any of these.
/// </summary>
/// <remarks>
/// Names stay those of the C API so they can be looked up in the headers. Only non-variadic entry
/// points are bound: C varargs cannot be called portably through P/Invoke. Returned
/// <c>const char*</c> values are owned by librdkafka and come back as <see cref="nint"/> so the
/// marshaller never frees them.
/// </remarks>
internal static unsafe partial class LibrdkafkaImports
{
    /// <summary><c>RD_KAFKA_PRODUCER</c>: the host handle's type; it never produces.</summary>
    public const int ProducerType = 0;

    /// <summary><c>RD_KAFKA_CONF_OK</c>.</summary>
    public const int ConfOk = 0;

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_conf_new();

    [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial void rd_kafka_conf_destroy(nint conf);

    /// <remarks>Takes ownership of <paramref name="conf"/> only when it succeeds.</remarks>
    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_new(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_err2str(int err);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(nint mcluster);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(nint mcluster, int brokerId);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(nint mcluster, int brokerId);

    /// <summary>The cluster id from a Metadata response (waits up to <paramref name="timeoutMs"/>); free with <see cref="rd_kafka_mem_free"/>. 0: unknown.</summary>
    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial nint rd_kafka_clusterid(nint rk, int timeoutMs);

    [LibraryImport(Librdkafka.LibraryName)]
    internal static partial void rd_kafka_mem_free(nint rk, nint ptr);

    /// <summary>librdkafka's text for an error code, e.g. "Broker: Topic already exists".</summary>
    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";
}
