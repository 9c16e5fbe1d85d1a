using System.Text;
using System.Text.Json.Nodes;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>
/// The parser never throws (issue 10, finding 2): invalid UTF-16 from escapes is a rejection with a fixed
/// reason, and a seeded corpus of mutated valid events — byte flips, truncations, inserted escapes, huge
/// numbers, deep nesting, duplicate keys, wrong types — yields a verdict for every case, never an exception.
/// </summary>
public sealed class ParserFuzzTests
{
    private const string Valid =
        """{"event_id":"e-1","type":"feedback.thumb","v":1,"app_id":"chat-app","session_id":"s-1","user_id":"u-1","occurred_at":"2026-01-31T12:00:00Z","data":{"generation_id":"g-1","value":"up"}}""";

    /// <summary>where the lone surrogate goes: a record that must be refused with the fixed reason for text that is not Unicode.</summary>
    public static TheoryData<string> LoneSurrogates() =>
    [
        Valid.Replace("\"e-1\"", "\"x\\ud800\"", StringComparison.Ordinal),
        Valid.Replace("\"s-1\"", "\"x\\udfff\"", StringComparison.Ordinal),
        Valid.Replace("\"u-1\"", "\"\\ud800x\"", StringComparison.Ordinal),
        Valid.Replace("\"chat-app\"", "\"x\\ud800\"", StringComparison.Ordinal),
        // (An unknown type or top-level field name holding one is refused for being unknown, unread: see RejectionReasonTests.)
        // Inside data: a value, and an unknown field name there.
        Valid.Replace("\"g-1\"", "\"g\\ud800\"", StringComparison.Ordinal),
        Valid.Replace("\"value\"", "\"\\ud800\":1,\"value\"", StringComparison.Ordinal),
        // A high surrogate followed by something that is not a low one.
        Valid.Replace("\"e-1\"", "\"\\ud800\\u0041\"", StringComparison.Ordinal),
    ];

    [Theory]
    [InlineData("\"s-1\"")] // envelope string
    [InlineData("\"g-1\"")] // a string inside data
    public void Bytes_that_are_not_UTF8_inside_a_string_are_refused_with_the_same_fixed_reason(string quoted)
    {
        var utf8 = Encoding.UTF8.GetBytes(Valid);
        var at = Encoding.UTF8.GetBytes(Valid[..Valid.IndexOf(quoted, StringComparison.Ordinal)]).Length + 1;
        utf8[at] = 0xC3; // a lead byte followed by one that cannot continue it ("(" after C3)
        utf8[at + 1] = 0x28;

        Assert.False(EventJson.TryParse(utf8, out _, out var rejection));
        Assert.Equal(EventJson.InvalidTextReason, rejection.Reason);
    }

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public void A_lone_surrogate_escape_anywhere_is_refused_with_a_fixed_reason(string raw)
    {
        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(raw), out _, out var rejection));
        Assert.Equal(EventRejectionKind.NotJson, rejection.Kind);
        Assert.Equal(EventJson.InvalidTextReason, rejection.Reason);
        // The envelope's reader cannot say which string it was; inside data the serializer's path names the field.
        Assert.True(rejection.Field == "$" || rejection.Field.StartsWith("data", StringComparison.Ordinal), rejection.Field);
    }

    [Fact]
    public void A_surrogate_pair_written_as_escapes_is_still_valid() =>
        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(Valid.Replace("\"u-1\"", "\"u\\ud83d\\ude00\"", StringComparison.Ordinal)), out _, out _));

    private const int Cases = 100_000;

    [Fact]
    public void A_hundred_thousand_mutated_events_never_make_the_parser_throw()
    {
        // Seeded: the same corpus on every run, so a failure names a case that can be replayed.
        var random = new Random(20261130);
        var seeds = EventSamples.All.Values.Select(EventJson.SerializeToUtf8Bytes).Append(Encoding.UTF8.GetBytes(Valid)).ToArray();
        var accepted = 0;
        var kinds = new Dictionary<EventRejectionKind, int>();
        var utf16 = 0;
        for (var i = 0; i < Cases; i++)
        {
            var mutant = Mutate(seeds[random.Next(seeds.Length)], random);
            bool ok;
            EventRejection? rejection;
            try
            {
                ok = EventJson.TryParse(mutant, out _, out rejection);
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex.GetType().Name}: {ex.Message}\n{Convert.ToBase64String(mutant)}");
                return;
            }
            if (ok)
            {
                accepted++;
                continue;
            }
            Assert.False(string.IsNullOrEmpty(rejection!.Field), $"case {i}: a rejection without a field");
            Assert.False(string.IsNullOrEmpty(rejection.Reason), $"case {i}: a rejection without a reason");
            kinds[rejection.Kind] = kinds.GetValueOrDefault(rejection.Kind) + 1;
            if (rejection.Reason == EventJson.InvalidTextReason) utf16++;
        }
        // The corpus reaches both verdicts and the classes of fault it was built for.
        Assert.InRange(accepted, 1, Cases - 1);
        Assert.True(kinds.GetValueOrDefault(EventRejectionKind.NotJson) > 0);
        Assert.True(kinds.GetValueOrDefault(EventRejectionKind.InvalidField) > 0);
        Assert.True(utf16 > 0, "no case reached the invalid UTF-16 path");
    }

    private static readonly string[] Escapes =
        [@"\ud800", @"\udfff", @"\ud800\u0041", @"\udc00\ud800", @"\u0000", @"\u001b", @"\\", "\\\"", @"\u00e9", @"\ud83d\ude00", @"\"];

    private static readonly string[] Values =
    [
        "null", "true", "false", "[]", "{}", "0", "-1", "1.5", "-0", "1e999999", "-1e999999", "99999999999999999999999999999",
        "9223372036854775808", "-9223372036854775809", "2147483648", "\"\"", "\"x\"", "\"x\\ud800\"", "[\"up\"]", "{\"a\":1}",
        "\"9999-12-31T23:59:59.9999999Z\"", "\"0001-01-01T00:00:00Z\"", "\"2026-02-30T00:00:00Z\"",
    ];

    /// <summary>One to three mutations of a valid event, structural (on the JSON tree) or on its bytes.</summary>
    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed;
        var rounds = random.Next(1, 4);
        for (var r = 0; r < rounds; r++)
        {
            var kind = random.Next(9);
            try
            {
                bytes = Step(bytes, kind, random);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or System.Text.Json.JsonException)
            {
                // JsonNode, which the structural steps use, refuses some inputs earlier steps made (duplicate keys,
                // lone surrogates): the mutant stays as it was. Only the parser under test must never throw.
            }
        }
        return bytes;
    }

    private static byte[] Step(byte[] bytes, int kind, Random random) => kind switch
    {
        0 => FlipByte(bytes, random),
        1 => bytes[..random.Next(bytes.Length + 1)],
        2 => InsertAfterQuote(bytes, Escapes[random.Next(Escapes.Length)], random),
        3 => ReplaceValue(bytes, random, Values[random.Next(Values.Length)]),
        4 => ReplaceValue(bytes, random, Nested(random)),
        5 => DuplicateKey(bytes, random),
        6 => InsertAfterQuote(bytes, Escapes[random.Next(Escapes.Length)] + "\":1,\"", random),
        7 => ReplaceValue(bytes, random, Values[random.Next(Values.Length)], inData: true),
        _ => FlipByte(FlipByte(bytes, random), random),
    };

    private static byte[] FlipByte(byte[] bytes, Random random)
    {
        if (bytes.Length == 0) return bytes;
        var copy = (byte[])bytes.Clone();
        var at = random.Next(copy.Length);
        // Half the flips a single bit (near-misses of the grammar), half any byte (invalid UTF-8, controls).
        copy[at] = random.Next(2) == 0 ? (byte)(copy[at] ^ (1 << random.Next(8))) : (byte)random.Next(256);
        return copy;
    }

    private static byte[] InsertAfterQuote(byte[] bytes, string text, Random random)
    {
        var quotes = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] == (byte)'"').ToArray();
        if (quotes.Length == 0) return bytes;
        var at = quotes[random.Next(quotes.Length)] + 1;
        return [.. bytes[..at], .. Encoding.UTF8.GetBytes(text), .. bytes[at..]];
    }

    private static string Nested(Random random)
    {
        var depth = random.Next(1, 80);
        return random.Next(2) == 0
            ? new string('[', depth) + "1" + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
    }

    /// <summary>Replaces one field's value (top level, or inside <c>data</c>) with <paramref name="json"/>; the bytes unchanged when they no longer parse as an object.</summary>
    private static byte[] ReplaceValue(byte[] bytes, Random random, string json, bool inData = false)
    {
        if (Tree(bytes) is not { } root) return bytes;
        var target = inData && root["data"] is JsonObject data ? data : root;
        var names = target.Select(p => p.Key).ToArray();
        if (names.Length == 0) return bytes;
        var name = names[random.Next(names.Length)];
        // Built as text, so values JsonNode would not hold (1e999999, lone surrogates, deep nesting) survive.
        target[name] = "\u0001MARK\u0001";
        return Text(root) is { } text ? Encoding.UTF8.GetBytes(text.Replace("\"\\u0001MARK\\u0001\"", json, StringComparison.Ordinal)) : bytes;
    }

    private static byte[] DuplicateKey(byte[] bytes, Random random)
    {
        if (Tree(bytes) is not { } root) return bytes;
        var target = random.Next(2) == 0 && root["data"] is JsonObject data ? data : root;
        var first = target.FirstOrDefault();
        if (first.Key is null) return bytes;
        if (Text(root) is not { } text) return bytes;
        var property = "\"" + first.Key + "\":" + (first.Value?.ToJsonString() ?? "null");
        var at = text.IndexOf(property, StringComparison.Ordinal);
        return at < 0 ? bytes : Encoding.UTF8.GetBytes(text.Insert(at, property + ","));
    }

    /// <summary>The tree as text; null when it holds a string a writer refuses (a lone surrogate the bytes already had).</summary>
    private static string? Text(JsonObject root)
    {
        try
        {
            return root.ToJsonString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static JsonObject? Tree(byte[] bytes)
    {
        try
        {
            return JsonNode.Parse(bytes) as JsonObject;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }
}
