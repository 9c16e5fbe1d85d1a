using System.Diagnostics;
using System.Text;

namespace FeedbackLoop.Contracts.Tests;

public sealed class TraceParentTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SpanId = "00f067aa0ba902b7";
    private const string Valid = "00-" + TraceId + "-" + SpanId + "-01";

    /// <summary>because, value, and the sampled flag it must yield.</summary>
    public static TheoryData<string, string, bool> WellFormed() => new()
    {
        { "the W3C example, sampled", Valid, true },
        { "not sampled", "00-" + TraceId + "-" + SpanId + "-00", false },
        { "flags other than sampled are ignored, sampled kept", "00-" + TraceId + "-" + SpanId + "-03", true },
        { "flags other than sampled are ignored, not sampled", "00-" + TraceId + "-" + SpanId + "-fe", false },
        { "a later version of exactly 55 characters reads as version 00", "01-" + TraceId + "-" + SpanId + "-01", true },
        { "a later version may go on after a dash; the tail is its own", "cc-" + TraceId + "-" + SpanId + "-01-what-the-future-holds", true },
        { "a later version with a huge tail still reads only 55 characters", "fe-" + TraceId + "-" + SpanId + "-01-" + new string('x', 1 << 16), true },
    };

    /// <summary>because, and a value that must be refused.</summary>
    public static TheoryData<string, string> Malformed() => new()
    {
        { "empty", "" },
        { "blank", "   " },
        { "one character short", Valid[..^1] },
        { "one character long (version 00 is exactly 55)", Valid + "0" },
        { "version 00 with a dash and more after it", Valid + "-extra" },
        { "huge version 00", Valid + new string('0', 1 << 16) },
        { "version ff is forbidden", "ff-" + TraceId + "-" + SpanId + "-01" },
        { "uppercase version", "0A-" + TraceId + "-" + SpanId + "-01" },
        { "version not hex", "0g-" + TraceId + "-" + SpanId + "-01" },
        { "a later version that goes on without a dash", "01-" + TraceId + "-" + SpanId + "-01x" },
        { "uppercase hex in the trace id", "00-" + TraceId.ToUpperInvariant() + "-" + SpanId + "-01" },
        { "uppercase hex in the span id", "00-" + TraceId + "-" + SpanId.ToUpperInvariant() + "-01" },
        { "uppercase hex in the flags", "00-" + TraceId + "-" + SpanId + "-0A" },
        { "all-zero trace id", "00-" + new string('0', 32) + "-" + SpanId + "-01" },
        { "all-zero span id", "00-" + TraceId + "-" + new string('0', 16) + "-01" },
        { "trace id not hex", "00-" + TraceId[..31] + "g-" + SpanId + "-01" },
        { "span id not hex", "00-" + TraceId + "-" + SpanId[..15] + "z-01" },
        { "flags not hex", "00-" + TraceId + "-" + SpanId + "-0x" },
        { "underscores instead of dashes", "00_" + TraceId + "_" + SpanId + "_01" },
        { "dash moved: trace id one short, span id one long", "00-" + TraceId[..31] + "-0" + SpanId + "-01" },
        { "spaces around it", " " + Valid[..^1] },
        { "a lone high surrogate in the trace id", "00-" + TraceId[..31] + "\uD800-" + SpanId + "-01" },
        { "a lone low surrogate in the span id", "00-" + TraceId + "-" + SpanId[..15] + "\uDC00-01" },
        { "a non-ASCII digit", "00-" + TraceId[..31] + "\u0663-" + SpanId + "-01" },
        { "fullwidth letters", "00-" + TraceId[..31] + "\uFF41-" + SpanId + "-01" },
        { "a NUL", "00-" + TraceId[..31] + "\0-" + SpanId + "-01" },
        { "only dashes", new string('-', 55) },
        { "the header name, not its value", "traceparent" },
    };

    [Theory]
    [MemberData(nameof(WellFormed))]
    public void A_well_formed_value_parses_from_text_and_from_utf8(string because, string value, bool sampled)
    {
        Assert.True(TraceParent.TryParse(value, out var fromText), because);
        Assert.True(TraceParent.TryParse(Encoding.UTF8.GetBytes(value), out var fromUtf8), because);
        Assert.True(TraceParent.IsValid(value.AsSpan()), because);

        foreach (var context in new[] { fromText, fromUtf8 })
        {
            Assert.Equal(TraceId, context.TraceId.ToHexString());
            Assert.Equal(SpanId, context.SpanId.ToHexString());
            Assert.Equal(sampled ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None, context.TraceFlags);
            Assert.True(context.IsRemote, "a parsed context came from another process");
        }
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_value_is_refused_without_throwing(string because, string value)
    {
        Assert.False(TraceParent.TryParse(value, out var context), because);
        Assert.Equal(default, context);
        Assert.False(TraceParent.IsValid(value.AsSpan()), because);
        // The same text as a Kafka header would carry it; lone surrogates become U+FFFD, still not hex.
        Assert.False(TraceParent.TryParse(Encoding.UTF8.GetBytes(value), out context), because);
        Assert.Equal(default, context);
    }

    /// <summary>because, and bytes no text encodes to.</summary>
    public static TheoryData<string, byte[]> MalformedUtf8() => new()
    {
        { "a stray continuation byte", Replace(Valid, 10, 0x80) },
        { "a byte that is hex when its top bit is dropped", Replace(Valid, 10, (byte)('a' | 0x80)) },
        { "a dash with its top bit set", Replace(Valid, 2, (byte)('-' | 0x80)) },
        { "an overlong encoding of '0'", [.. Encoding.ASCII.GetBytes(Valid[..10]), 0xC0, 0xB0, .. Encoding.ASCII.GetBytes(Valid[11..])] },
        { "nothing at all", [] },
    };

    [Theory]
    [MemberData(nameof(MalformedUtf8))]
    public void Malformed_utf8_is_refused_without_throwing(string because, byte[] value)
    {
        Assert.False(TraceParent.IsValid(value), because);
        Assert.False(TraceParent.TryParse(value, out var context), because);
        Assert.Equal(default, context);
    }

    [Fact]
    public void Null_is_refused()
    {
        Assert.False(TraceParent.TryParse((string?)null, out var context));
        Assert.Equal(default, context);
    }

    [Fact]
    public void A_context_formats_to_the_value_it_parses_from()
    {
        var context = new ActivityContext(ActivityTraceId.CreateFromString(TraceId), ActivitySpanId.CreateFromString(SpanId), ActivityTraceFlags.Recorded);

        var text = TraceParent.Format(context);
        var utf8 = new byte[TraceParent.Length + 3];
        Assert.True(TraceParent.TryFormat(context, utf8, out var written));

        Assert.Equal(Valid, text);
        Assert.Equal(TraceParent.Length, written);
        Assert.Equal(Valid, Encoding.ASCII.GetString(utf8, 0, written));
        Assert.True(TraceParent.TryParse(text, out var back));
        Assert.Equal((context.TraceId, context.SpanId, context.TraceFlags), (back.TraceId, back.SpanId, back.TraceFlags));
    }

    [Fact]
    public void Only_the_sampled_flag_is_written()
    {
        var context = new ActivityContext(ActivityTraceId.CreateFromString(TraceId), ActivitySpanId.CreateFromString(SpanId), (ActivityTraceFlags)0xff);

        Assert.EndsWith("-01", TraceParent.Format(context), StringComparison.Ordinal);
        Assert.EndsWith("-00", TraceParent.Format(new ActivityContext(context.TraceId, context.SpanId, ActivityTraceFlags.None)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_context_without_ids_does_not_format()
    {
        Assert.Throws<ArgumentException>(() => TraceParent.Format(default));
        Assert.Null(TraceParent.FormatOrNull(default));
        Assert.False(TraceParent.TryFormat(default, new byte[TraceParent.Length], out var written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void A_destination_too_short_is_refused()
    {
        var context = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None);

        Assert.False(TraceParent.TryFormat(context, new byte[TraceParent.Length - 1], out var written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Random_contexts_round_trip()
    {
        for (var i = 0; i < 1000; i++)
        {
            var context = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), (ActivityTraceFlags)(i & 1));
            Assert.True(TraceParent.TryParse(TraceParent.Format(context), out var back));
            Assert.Equal(context.TraceId, back.TraceId);
            Assert.Equal(context.SpanId, back.SpanId);
            Assert.Equal(context.TraceFlags, back.TraceFlags);
        }
    }

    private static byte[] Replace(string text, int index, byte value)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        bytes[index] = value;
        return bytes;
    }
}
