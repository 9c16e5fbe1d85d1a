using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// Issue 10's hostile records as a kcat user writes them: JSON typed by hand, never through the SDK or the contracts'
/// serializer (which cannot produce them), and the dead-letter topic read back as raw records.
/// </summary>
internal static class HostileRecords
{
    /// <summary>A <c>generation.shown</c> of app "demo" dated <paramref name="occurredAt"/> (finding 1 with a date at the end of time).</summary>
    public static byte[] Shown(string sessionId, string occurredAt, string eventId = "hostile-1", string output = "A") => Encoding.UTF8.GetBytes(
        $$$"""{"event_id":"{{{eventId}}}","type":"generation.shown","v":1,"app_id":"demo","session_id":"{{{sessionId}}}","user_id":"u","occurred_at":"{{{occurredAt}}}","data":{"generation_id":"gx","model_version":"m1","input":[{"role":"user","content":"Q"}],"output":"{{{output}}}"}}""");

    /// <summary>
    /// Finding 2: a lone surrogate escape after <paramref name="text"/> in an envelope string, in an unknown field's
    /// name and in a data string, each with the JSON path its dead letter names. Each threw out of the parser.
    /// </summary>
    public static IReadOnlyList<(string Value, string Field, string Reason)> LoneSurrogates(string sessionId, string text = "x")
    {
        var valid = Encoding.UTF8.GetString(Shown(sessionId, "2026-03-01T09:00:00Z"));
        return
        [
            (valid.Replace("\"u\"", $"\"{text}\\ud800\"", StringComparison.Ordinal), "$", EventJson.InvalidTextReason),
            // An unknown field's name is not read at all (finding 8): it is refused for being unknown, not for its escape.
            (valid.Replace("\"app_id\"", $"\"{text}\\udfff\":1,\"app_id\"", StringComparison.Ordinal), "$", EventJson.UnknownFieldReason),
            (valid.Replace("\"output\":\"A\"", $"\"output\":\"{text}\\ud800\"", StringComparison.Ordinal), "data.output", EventJson.InvalidTextReason),
        ];
    }

    /// <summary>Random lowercase letters: texts that share almost nothing, so an edit distance between two costs its full table.</summary>
    public static string Letters(Random random, int length) =>
        string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = (char)('a' + r.Next(26));
        });

    /// <summary>
    /// Reads a whole dead-letter topic (one partition), to its end as it stands: value, key, and headers by name. Call
    /// it once the extractors that write it have returned (they flush before they do), so the end read is the end there
    /// is and a doubled record would be in what is returned.
    /// </summary>
    public static List<(byte[]? Value, string? Key, Dictionary<string, string> Headers)> ReadDeadLetters(string bootstrapServers, string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "dlq-reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var records = new List<(byte[]?, string?, Dictionary<string, string>)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the end of {topic} was not reached within 30 s; {records.Count} read");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null) continue;
            if (result.IsPartitionEOF) return records;
            records.Add((result.Message.Value, result.Message.Key is null ? null : Encoding.UTF8.GetString(result.Message.Key),
                result.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()))));
        }
    }
}
