using Confluent.Kafka;

namespace FeedbackLoop.Kafka.Configuration;

/// <summary>
/// The operator's librdkafka properties (<c>--kafka-config</c>: TLS, SASL, tuning), added to every Kafka client a role
/// builds after the role's own settings. Keys the loop depends on for correctness never get here:
/// <see cref="KafkaSettingPolicy"/> refuses them when the file is read. Values may be secrets, so this type never
/// prints them: <see cref="ToString"/> names the keys only.
/// </summary>
public sealed class KafkaClientProperties
{
    private readonly KeyValuePair<string, string>[] _pairs;

    internal KafkaClientProperties(IEnumerable<KeyValuePair<string, string>> pairs) => _pairs = [.. pairs];

    /// <summary>No extra properties: a plaintext cluster reached with the role's own settings.</summary>
    public static KafkaClientProperties None { get; } = new([]);

    /// <summary>The keys the file set, in file order (safe to log; the values are not).</summary>
    public IReadOnlyList<string> Keys => [.. _pairs.Select(p => p.Key)];

    /// <summary>The key/value pairs, for clients built below Confluent.Kafka (the cluster id query).</summary>
    internal IReadOnlyList<KeyValuePair<string, string>> Pairs => _pairs;

    /// <summary>Sets every property on <paramref name="config"/> and returns it, so it reads inside a builder call.</summary>
    public T ApplyTo<T>(T config) where T : ClientConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var (key, value) in _pairs) config.Set(key, value);
        return config;
    }

    /// <summary>The keys only: values may be passwords.</summary>
    public override string ToString() => _pairs.Length == 0 ? "(none)" : string.Join(", ", Keys);
}
