using System.Runtime.InteropServices;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Kafka.Embedded;

/// <summary>
/// Asks a Kafka cluster (real or embedded) for its cluster id through librdkafka's <c>rd_kafka_clusterid</c>, which
/// reads it from a Metadata response. Confluent.Kafka's <c>DescribeClusterAsync</c> would be the obvious call, but it
/// needs the DescribeCluster API, which the embedded cluster does not implement, while every broker answers Metadata.
/// </summary>
internal static class ClusterIdQuery
{
    /// <summary>The cluster id, or null when the cluster did not answer within <paramref name="timeout"/>.</summary>
    public static unsafe string? Read(string bootstrapServers, KafkaClientProperties kafkaProperties, TimeSpan timeout)
    {
        Librdkafka.EnsureLoaded();
        const int errorSize = 512;
        var error = stackalloc byte[errorSize];
        var conf = LibrdkafkaImports.rd_kafka_conf_new();
        // The operator's properties come after the query's own, as for every other client (TLS and SASL reach this one too).
        IEnumerable<(string, string)> settings = [("bootstrap.servers", bootstrapServers), ("client.id", "feedbackloop-cluster-id"), ("log_level", "3"),
            .. kafkaProperties.Pairs.Select(p => (p.Key, p.Value))];
        foreach (var (name, value) in settings)
        {
            if (LibrdkafkaImports.rd_kafka_conf_set(conf, name, value, error, errorSize) != LibrdkafkaImports.ConfOk)
            {
                LibrdkafkaImports.rd_kafka_conf_destroy(conf);
                return null;
            }
        }

        var client = LibrdkafkaImports.rd_kafka_new(LibrdkafkaImports.ProducerType, conf, error, errorSize);
        if (client == 0)
        {
            LibrdkafkaImports.rd_kafka_conf_destroy(conf);
            return null;
        }

        try
        {
            var id = LibrdkafkaImports.rd_kafka_clusterid(client, (int)timeout.TotalMilliseconds);
            if (id == 0) return null;
            try
            {
                return Marshal.PtrToStringUTF8(id);
            }
            finally
            {
                LibrdkafkaImports.rd_kafka_mem_free(client, id);
            }
        }
        finally
        {
            LibrdkafkaImports.rd_kafka_destroy(client);
        }
    }
}
