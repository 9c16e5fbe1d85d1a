using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Collector;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using Xunit.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 12, item 5: the hostile corpus against one collector on real Kestrel and the embedded Kafka cluster, each
/// request with its expected status and reason. Afterwards the collector still serves a valid batch, its memory stayed
/// bounded (a 480 MiB gzip bomb was never inflated), the events topic holds exactly the events the answers accepted,
/// and the dead-letter topic exactly the events refused one by one, marked as the collector's.
/// </summary>
[Collection(CollectorTests.Collection)]
public sealed class CollectorHostileTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(brokers: 1);
    private readonly string _events = "collector-events-" + Guid.NewGuid().ToString("N");
    private readonly string _deadLetters = "collector-dlq-" + Guid.NewGuid().ToString("N");
    private readonly TempFolder _folder = new("collector-hostile");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private CollectorUnderTest _collector = null!;
    private string _demoKey = "";
    private string _otherKey = "";
    private string _revokedKey = "";

    public async Task InitializeAsync()
    {
        _cluster.CreateTopic(_events, 1, 1);
        _cluster.CreateTopic(_deadLetters, 1, 1);
        var keysFile = _folder.Combine("keys.json");
        var keys = new Collector.Keys.WriteKeyFile(keysFile);
        _demoKey = keys.Create("demo", DateTimeOffset.UtcNow).Key;
        _otherKey = keys.Create("other", DateTimeOffset.UtcNow).Key;
        var (revoked, revokedKey) = keys.Create("demo", DateTimeOffset.UtcNow);
        keys.Revoke(revoked.KeyId, DateTimeOffset.UtcNow);
        _revokedKey = revokedKey;
        _collector = await CollectorUnderTest.StartAsync(_cluster.BootstrapServers, keysFile, o => o with
        {
            EventsTopic = _events,
            DeadLetterTopic = _deadLetters,
            // Short enough that the slow client is cut within the test's time, long enough for a loaded machine.
            MinBodyBytesPerSecond = 1_000,
            MinBodyRateGrace = TimeSpan.FromSeconds(2),
        });
    }

    public async Task DisposeAsync() => await _collector.DisposeAsync();

    public void Dispose()
    {
        _http.Dispose();
        _cluster.Dispose();
        _folder.Dispose();
    }

    /// <summary>One hostile request: what it is, what it sends, and the answer expected.</summary>
    /// <param name="Name">What the request is.</param>
    /// <param name="Status">The status expected.</param>
    /// <param name="Reason">The <c>error</c> of a refused request; for a 200, the <c>field|reason</c> of each rejected event, joined by <c>;</c>.</param>
    /// <param name="Send">Sends it and returns the answer.</param>
    /// <param name="Accepted">For a 200, the ids of the events accepted.</param>
    /// <param name="Counted">The <c>reason</c> of <c>requests_refused</c> it adds to: its error, or for a request whose client is gone, what the collector counted.</param>
    private sealed record HostileCase(string Name, int Status, string Reason, Func<Task<(int Status, string Body)>> Send, string[]? Accepted = null, string? Counted = null)
    {
        public string? CountedReason => Counted ?? (Status is 200 or 0 ? null : Reason);
    }

    [Fact]
    public async Task Every_hostile_request_gets_its_status_and_reason_and_afterwards_a_valid_batch_works_memory_stayed_bounded_and_nothing_refused_reached_the_topic()
    {
        var cases = Cases();
        Assert.True(cases.Count >= 50, $"the corpus has {cases.Count} cases");
        using var refusals = new RefusalCounter();
        var peakBefore = PeakResidentBytes();
        var failures = new List<string>();
        var dead = 0;
        foreach (var c in cases)
        {
            var (status, body) = await c.Send();
            var got = status switch { 200 => RejectedOf(body), 0 => NoAnswer, _ => ErrorOf(body) };
            var accepted = status == 200 ? AcceptedOf(body) : -1;
            output.WriteLine($"{c.Name}: {status} {got}{(status == 200 ? $" accepted {accepted}" : "")}");
            if (status != c.Status || got != c.Reason || (c.Status == 200 && accepted != (c.Accepted?.Length ?? 0)))
                failures.Add($"{c.Name}: expected {c.Status} {c.Reason} (accepted {c.Accepted?.Length ?? 0}), got {status} {got} (accepted {accepted})");
            if (status == 200) dead += JsonDocument.Parse(body).RootElement.GetProperty("rejected").GetArrayLength();
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Every refusal was counted by its reason, the one whose client was gone included.
        var expectedCounts = cases.Where(c => c.CountedReason is not null).GroupBy(c => c.CountedReason!).ToDictionary(g => g.Key, g => (long)g.Count());
        await Eventually.HoldsAsync(() => refusals.Snapshot().Count == expectedCounts.Count, what: "every refusal reason counted");
        Assert.Equal(expectedCounts.OrderBy(p => p.Key, StringComparer.Ordinal), refusals.Snapshot().OrderBy(p => p.Key, StringComparer.Ordinal));

        // Still serving: a valid batch is accepted whole.
        var (okStatus, okBody) = await PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("ok-after-1"), CollectorEvents.Thumb("ok-after-2", session: "s2")));
        Assert.Equal((200, 2, ""), (okStatus, AcceptedOf(okBody), RejectedOf(okBody)));

        // Memory: every reservation was given back, and the bomb never became 480 MiB of heap.
        Assert.Equal(0, _collector.InFlight.Held);
        var grown = PeakResidentBytes() - peakBefore;
        output.WriteLine($"peak resident set grew by {grown / (1024 * 1024)} MiB over the table");
        Assert.True(grown < 256L * 1024 * 1024, $"the peak resident set grew by {grown / (1024 * 1024)} MiB");

        // The events topic holds exactly what the answers accepted; the dead-letter topic exactly what they refused one by one.
        var expected = cases.SelectMany(c => c.Accepted ?? []).Append("ok-after-1").Append("ok-after-2").Order(StringComparer.Ordinal).ToList();
        var onTopic = HostileRecords.ReadDeadLetters(_cluster.BootstrapServers, _events)
            .Select(r => JsonDocument.Parse(r.Value).RootElement.GetProperty("event_id").GetString()!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, onTopic);
        var letters = HostileRecords.ReadDeadLetters(_cluster.BootstrapServers, _deadLetters);
        Assert.Equal(dead, letters.Count);
        Assert.All(letters, l => Assert.Equal(KafkaDelivery.Source, l.Headers[ExtractionLoop.SourceHeader]));
        Assert.All(letters, l => Assert.True(l.Headers[ExtractionLoop.ReasonHeader].Length > 0 && l.Headers.ContainsKey(ExtractionLoop.FieldHeader)));
    }

    private List<HostileCase> Cases()
    {
        var valid = CollectorEvents.Thumb("hostile-valid-but-refused-request");
        var validBatch = CollectorEvents.Batch(valid);
        string Ev(string id, Func<string, string> change) => CollectorEvents.Thumb(id, change: change);
        const string fieldTwice = "appears twice";
        var future = DateTimeOffset.UtcNow.AddYears(100);
        var wellFormedUnknown = "flk_0123456789ab_" + new string('A', 43);
        return
        [
            // Keys (401): nothing of the body is read.
            new("no Authorization", 401, Refusals.MissingKey, () => PostAsync(validBatch, key: null)),
            new("empty bearer", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: "Bearer ")),
            new("basic scheme", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: "Basic " + _demoKey)),
            new("token without scheme", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: _demoKey)),
            new("garbled key", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: "Bearer flk_%%%%")),
            new("key with trailing junk", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: "Bearer " + _demoKey + "x")),
            new("unknown key", 401, Refusals.UnknownKey, () => PostAsync(validBatch, authorization: "Bearer " + wellFormedUnknown)),
            new("known id, wrong secret", 401, Refusals.UnknownKey, () => PostAsync(validBatch, authorization: "Bearer " + _demoKey[..^2] + (_demoKey[^2..] == "AA" ? "BB" : "AA"))),
            new("revoked key", 401, Refusals.RevokedKey, () => PostAsync(validBatch, authorization: "Bearer " + _revokedKey)),
            new("two Authorization headers (joined by the client)", 401, Refusals.MalformedKey, () => PostAsync(validBatch, authorization: "Bearer " + _demoKey, secondAuthorization: "Bearer " + _otherKey)),

            // A key writes only its own app's events.
            new("app A's key, app B's event", 200, "app_id|" + BatchValidator.AppMismatchReason, () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-b", app: "other")))),
            new("app B's key, app A's event, with one of its own", 200, "app_id|" + BatchValidator.AppMismatchReason,
                () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-a"), CollectorEvents.Thumb("ok-other-1", app: "other")), key: _otherKey), ["ok-other-1"]),

            // Content type and encoding (415).
            new("text/plain", 415, Refusals.UnsupportedContentType, () => PostAsync(validBatch, contentType: "text/plain")),
            new("no content type", 415, Refusals.UnsupportedContentType, () => PostAsync(validBatch, contentType: null)),
            new("json in latin1", 415, Refusals.UnsupportedContentType, () => PostAsync(validBatch, contentType: "application/json; charset=iso-8859-1")),
            new("form", 415, Refusals.UnsupportedContentType, () => PostAsync(validBatch, contentType: "application/x-www-form-urlencoded")),
            new("brotli", 415, Refusals.UnsupportedEncoding, () => PostAsync(validBatch, encoding: "br")),
            new("deflate", 415, Refusals.UnsupportedEncoding, () => PostAsync(validBatch, encoding: "deflate")),
            new("gzip twice", 415, Refusals.UnsupportedEncoding, () => PostAsync(validBatch, encoding: "gzip, gzip")),

            // Gzip that is not.
            new("says gzip, is plain", 400, Refusals.CorruptGzip, () => PostAsync(validBatch, encoding: "gzip")),
            // .NET's gzip reader ends a cut stream without an error; the collector tells it from bad JSON by the gzip trailer.
            new("truncated gzip", 400, Refusals.CorruptGzip, () => PostRawAsync(Gzip(Encoding.UTF8.GetBytes(validBatch))[..20], "gzip")),
            new("gzip cut in the middle of a 100-event batch", 400, Refusals.CorruptGzip, () => PostRawAsync(Half(Gzip(Encoding.UTF8.GetBytes(CollectorEvents.Batch([.. Enumerable.Range(0, 100).Select(i => CollectorEvents.Thumb("hostile-cut-" + i))])))), "gzip")),
            // Cut inside the trailer only: every event is whole, and zlib has nothing left to check them against.
            new("gzip cut inside its trailer", 200, "", () => PostRawAsync(Gzip(Encoding.UTF8.GetBytes(CollectorEvents.Batch(CollectorEvents.Thumb("ok-cut-trailer"))))[..^4], "gzip"), ["ok-cut-trailer"]),
            new("gzip cut after its header", 400, Refusals.CorruptGzip, () => PostRawAsync(Gzip(Encoding.UTF8.GetBytes(validBatch))[..10], "gzip")),
            new("gzip with a flipped byte", 400, Refusals.CorruptGzip, () => PostRawAsync(Flip(Gzip(Encoding.UTF8.GetBytes(validBatch)), 14), "gzip")),

            // Not a JSON array (400).
            new("not JSON", 400, Refusals.NotJson, () => PostAsync("hello")),
            new("empty body", 400, Refusals.NotJson, () => PostAsync("")),
            new("an object", 400, Refusals.NotArray, () => PostAsync(valid)),
            new("a string", 400, Refusals.NotArray, () => PostAsync("\"[]\"")),
            new("null", 400, Refusals.NotArray, () => PostAsync("null")),
            new("empty array", 400, Refusals.EmptyBatch, () => PostAsync("[]")),
            new("array then garbage", 400, Refusals.NotJson, () => PostAsync(validBatch + " x")),
            new("two arrays", 400, Refusals.NotJson, () => PostAsync(validBatch + validBatch)),
            new("unterminated array", 400, Refusals.NotJson, () => PostAsync("[" + valid)),
            new("comment", 400, Refusals.NotJson, () => PostAsync("[/* hi */" + valid + "]")),
            new("trailing comma", 400, Refusals.NotJson, () => PostAsync("[" + valid + ",]")),
            // The JSON reader checks UTF-8 only when a string is decoded: the event parser's reason, as the extractor gives it.
            new("invalid UTF-8 in a string", 200, "$|" + EventJson.InvalidTextReason, () => PostRawAsync(Replace(validBatch, "\"u1\"", [(byte)'"', 0xC3, 0x28, (byte)'"']), null)),
            new("raw NUL byte in a string", 400, Refusals.NotJson, () => PostRawAsync(Replace(validBatch, "\"u1\"", [(byte)'"', 0x00, (byte)'"']), null)),
            new("nesting 40 deep inside data", 400, Refusals.TooDeep, () => PostAsync(CollectorEvents.Batch(Ev("hostile-deep", j => j.Replace("\"value\":\"up\"", "\"value\":\"up\",\"x\":" + new string('[', 40) + new string(']', 40), StringComparison.Ordinal))))),
            new("nesting 100,000 deep", 400, Refusals.TooDeep, () => PostAsync(new string('[', 100_000) + new string(']', 100_000))),

            // Over the limits (413).
            new("2,501 events", 413, Refusals.TooManyEvents, () => PostAsync("[" + string.Join(",", Enumerable.Repeat("1", 2_501)) + "]")),
            new("a 33 KiB event", 413, Refusals.EventTooLarge, () => PostAsync(CollectorEvents.Batch(Ev("hostile-big", j => j.Replace("\"g1\"", "\"" + new string('g', 33 * 1024) + "\"", StringComparison.Ordinal))))),
            new("a 600 KiB body", 413, Refusals.BodyTooLarge, () => PostAsync("[" + string.Join(",", Enumerable.Repeat(valid, 600 * 1024 / valid.Length)) + "]")),
            new("a 600 KiB chunked body", 413, Refusals.BodyTooLarge, () => RawHttp.PostChunkedAsync(_collector.BatchUrl, Headers(_demoKey), Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat(valid, 600 * 1024 / valid.Length)) + "]"), Deadline)),
            new("gzip bomb (480 MiB inflated)", 413, Refusals.DecompressedTooLarge, () => PostRawAsync(Bomb(480L * 1024 * 1024), "gzip")),
            new("6 MiB of events in 300 KiB of gzip", 413, Refusals.DecompressedTooLarge, () => PostRawAsync(Gzip(Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat(valid, 6 * 1024 * 1024 / valid.Length)) + "]")), "gzip")),

            // Refused one by one (200, dead-lettered), judged by the extractor's own parser and event-time check.
            new("huge number as v", 200, "v|must be an integer", () => PostAsync(CollectorEvents.Batch(Ev("hostile-v-huge", j => j.Replace("\"v\":1", "\"v\":1e400", StringComparison.Ordinal))))),
            new("20-digit v", 200, "v|must be an integer", () => PostAsync(CollectorEvents.Batch(Ev("hostile-v-long", j => j.Replace("\"v\":1", "\"v\":99999999999999999999", StringComparison.Ordinal))))),
            new("v: 2", 200, "v|unsupported version 2; this pipeline reads v1", () => PostAsync(CollectorEvents.Batch(Ev("hostile-v2", j => j.Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal))))),
            new("duplicate key", 200, "session_id|" + fieldTwice, () => PostAsync(CollectorEvents.Batch(Ev("hostile-dup", j => j.Replace("\"session_id\":\"s1\"", "\"session_id\":\"s1\",\"session_id\":\"s2\"", StringComparison.Ordinal))))),
            new("lone surrogate", 200, "$|" + EventJson.InvalidTextReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-surrogate", j => j.Replace("\"u1\"", "\"u\\ud800\"", StringComparison.Ordinal))))),
            new("lone surrogate in data", 200, "data.generation_id|" + EventJson.InvalidTextReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-surrogate-2", j => j.Replace("\"g1\"", "\"g\\udfff\"", StringComparison.Ordinal))))),
            new("65-character event_id", 200, "event_id|must be 1 to 64 characters", () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb(new string('h', 65))))),
            new("129-character session_id", 200, "session_id|must be 1 to 128 characters", () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-long-session", session: new string('s', 129))))),
            new("far-future occurred_at", 200, "occurred_at|" + EventTimeCheck.TooFarAheadReason, () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-future", at: future)))),
            new("end-of-time occurred_at", 200, "occurred_at|" + EventTimeCheck.TooFarAheadReason, () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-eot", at: DateTimeOffset.MaxValue.AddSeconds(-1))))),
            new("occurred_at with an offset", 200, "occurred_at|must be an RFC 3339 UTC timestamp such as 2026-01-31T12:00:00Z", () => PostAsync(CollectorEvents.Batch(Ev("hostile-offset", j => j.Replace("Z\",\"data\"", "+02:00\",\"data\"", StringComparison.Ordinal))))),
            new("unknown type", 200, "type|" + EventJson.UnknownTypeReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-type", j => j.Replace("feedback.thumb", "feedback.hack", StringComparison.Ordinal))))),
            new("extra field", 200, "$|" + EventJson.UnknownFieldReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-extra", j => j.Replace("\"v\":1", "\"v\":1,\"admin\":true", StringComparison.Ordinal))))),
            new("no data", 200, "data|required field is missing", () => PostAsync(CollectorEvents.Batch(Ev("hostile-nodata", j => j[..j.IndexOf(",\"data\"", StringComparison.Ordinal)] + "}")))),
            new("app id against the rule", 200, "app_id|" + EventJson.AppIdReason, () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-appid", app: "Demo!")))),
            new("a number, a null and a valid event", 200, "$|an event must be a JSON object;$|an event must be a JSON object", () => PostAsync("[1,null," + CollectorEvents.Thumb("ok-mixed-1") + "]"), ["ok-mixed-1"]),
            // Ids are text without control characters (docs/contract/events.md), judged by the extractor's parser.
            new("escaped NUL in user_id", 200, "user_id|" + EventJson.IdControlCharacterReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-nul-escape", j => j.Replace("\"u1\"", "\"u\\u0000\"", StringComparison.Ordinal))))),
            new("terminal escape in user_id, with a valid event", 200, "user_id|" + EventJson.IdControlCharacterReason,
                () => PostAsync(CollectorEvents.Batch(Ev("hostile-esc", j => j.Replace("\"u1\"", "\"u\\u001b[2J\"", StringComparison.Ordinal)), CollectorEvents.Thumb("ok-after-esc"))), ["ok-after-esc"]),
            new("forged log line in session_id", 200, "session_id|" + EventJson.IdControlCharacterReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-crlf", j => j.Replace("\"session_id\":\"s1\"", "\"session_id\":\"s1\\r\\nWARN forged\"", StringComparison.Ordinal))))),
            new("C1 control in session_id", 200, "session_id|" + EventJson.IdControlCharacterReason, () => PostAsync(CollectorEvents.Batch(Ev("hostile-c1", j => j.Replace("\"session_id\":\"s1\"", "\"session_id\":\"s\\u0085\"", StringComparison.Ordinal))))),
            new("escaped NUL in event_id", 200, "event_id|" + EventJson.IdControlCharacterReason, () => PostAsync(CollectorEvents.Batch(CollectorEvents.Thumb("hostile-nul-id\\u0000")))),

            // The connection itself.
            // The client closed its side: Kestrel ends the request, so there is nobody to answer; the refusal is counted.
            new("a body that stops halfway", 0, NoAnswer, () => RawHttp.PostAsync(_collector.BatchUrl, Headers(_demoKey), Encoding.UTF8.GetBytes(validBatch), validBatch.Length / 2, TimeSpan.Zero, halfClose: true, Deadline), Counted: Refusals.BodyIncomplete),
            new("a very slow client", 408, Refusals.BodyTimeout, () => RawHttp.PostAsync(_collector.BatchUrl, Headers(_demoKey), Encoding.UTF8.GetBytes(validBatch), validBatch.Length, TimeSpan.FromMilliseconds(200), halfClose: false, Deadline)),
        ];
    }

    private const string NoAnswer = "(no answer)";

    private static string Headers(string key) => $"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n";

    private Task<(int, string)> PostAsync(string body, string? key = "", string? authorization = null, string? secondAuthorization = null, string? contentType = "application/json", string? encoding = null) =>
        SendAsync(Encoding.UTF8.GetBytes(body), key, authorization, secondAuthorization, contentType, encoding);

    private Task<(int, string)> PostRawAsync(byte[] body, string? encoding) =>
        SendAsync(body, "", null, null, "application/json", encoding);

    private async Task<(int, string)> SendAsync(byte[] body, string? key, string? authorization, string? secondAuthorization, string? contentType, string? encoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _collector.BatchUrl);
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (encoding is not null) content.Headers.TryAddWithoutValidation("Content-Encoding", encoding);
        request.Content = content;
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        else if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Length == 0 ? _demoKey : key);
        if (secondAuthorization is not null) request.Headers.TryAddWithoutValidation("Authorization", secondAuthorization);
        using var response = await _http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string ErrorOf(string body)
    {
        try
        {
            // A raw socket's answer may be chunked: the JSON is between the first and the last brace.
            var json = body[body.IndexOf('{', StringComparison.Ordinal)..(body.LastIndexOf('}') + 1)];
            return JsonDocument.Parse(json).RootElement.GetProperty("error").GetString() ?? "";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return "(no error: " + body[..Math.Min(body.Length, 80)] + ")";
        }
    }

    private static string RejectedOf(string body) =>
        string.Join(";", JsonDocument.Parse(body).RootElement.GetProperty("rejected").EnumerateArray()
            .Select(r => r.GetProperty("field").GetString() + "|" + r.GetProperty("reason").GetString()));

    private static int AcceptedOf(string body) => JsonDocument.Parse(body).RootElement.GetProperty("accepted").GetInt32();

    private static byte[] Half(byte[] bytes) => bytes[..(bytes.Length / 2)];

    private static byte[] Gzip(byte[] plain)
    {
        var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(plain);
        return buffer.ToArray();
    }

    /// <summary><paramref name="inflated"/> zero bytes gzipped, written from one small buffer: the test never holds them either.</summary>
    private static byte[] Bomb(long inflated)
    {
        var zeros = new byte[1 << 20];
        var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write("["u8);
            for (long written = 0; written < inflated; written += zeros.Length) gzip.Write(zeros);
        }
        Assert.True(buffer.Length < EventLimits.MaxBatchBytes, $"the bomb is {buffer.Length} bytes on the wire");
        return buffer.ToArray();
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0xFF;
        return copy;
    }

    private static byte[] Replace(string text, string what, byte[] with)
    {
        var at = text.IndexOf(what, StringComparison.Ordinal);
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. with, .. Encoding.UTF8.GetBytes(text[(at + what.Length)..])];
    }

    /// <summary>This process's peak resident set (VmHWM): the collector runs in it.</summary>
    private static long PeakResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
