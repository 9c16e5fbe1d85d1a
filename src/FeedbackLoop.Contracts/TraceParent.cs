using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace FeedbackLoop.Contracts;

/// <summary>
/// The W3C Trace Context <c>traceparent</c> value (<c>00-&lt;32 hex trace-id&gt;-&lt;16 hex parent-id&gt;-&lt;2 hex flags&gt;</c>),
/// the one format every FeedbackLoop role uses to carry a trace through Kafka headers and bus messages.
/// Parsing is strict, because every header it reads was written by someone else: lowercase hex only,
/// no all-zero ids, version <c>ff</c> refused, and it never throws.
/// </summary>
public static class TraceParent
{
    /// <summary>The header (Kafka) or field name that carries the value.</summary>
    public const string HeaderName = "traceparent";

    /// <summary>Length of a version-00 value, in characters (and UTF-8 bytes).</summary>
    public const int Length = 55;

    /// <summary>
    /// Formats <paramref name="context"/> as a version-00 value. Only the sampled flag is written: the
    /// other bits are undefined in version 00, and W3C asks that they be sent as zero.
    /// </summary>
    /// <exception cref="ArgumentException">The context has no valid trace id or span id (for example <c>default</c>).</exception>
    public static string Format(ActivityContext context)
    {
        if (!IsFormattable(context)) throw new ArgumentException("The context has no valid W3C trace id and span id.", nameof(context));
        return string.Create(Length, context, static (chars, c) => Write(chars, c));
    }

    /// <summary>Formats <paramref name="context"/> as a version-00 value, or returns null when it has no valid ids.</summary>
    public static string? FormatOrNull(ActivityContext context) => IsFormattable(context) ? Format(context) : null;

    /// <summary>
    /// Writes the version-00 value of <paramref name="context"/> as UTF-8 into <paramref name="utf8Destination"/>.
    /// False (nothing written) when the context has no valid ids or the destination is shorter than <see cref="Length"/>.
    /// </summary>
    public static bool TryFormat(ActivityContext context, Span<byte> utf8Destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (utf8Destination.Length < Length || !IsFormattable(context)) return false;
        Span<char> chars = stackalloc char[Length];
        Write(chars, context);
        for (var i = 0; i < Length; i++) utf8Destination[i] = (byte)chars[i]; // all ASCII by construction
        bytesWritten = Length;
        return true;
    }

    /// <summary>Parses a value; false for anything but a well-formed W3C <c>traceparent</c>. Never throws.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out ActivityContext context)
    {
        context = default;
        return value is not null && TryParse(value.AsSpan(), out context);
    }

    /// <summary>Parses a value; false for anything but a well-formed W3C <c>traceparent</c>. Never throws.</summary>
    public static bool TryParse(ReadOnlySpan<char> value, out ActivityContext context)
    {
        context = default;
        if (!IsValid(value)) return false;
        context = new ActivityContext(
            ActivityTraceId.CreateFromString(value.Slice(3, 32)),
            ActivitySpanId.CreateFromString(value.Slice(36, 16)),
            SampledFlag(value),
            isRemote: true);
        return true;
    }

    /// <summary>Parses a UTF-8 value (a Kafka header); false for anything but a well-formed W3C <c>traceparent</c>. Never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out ActivityContext context)
    {
        context = default;
        if (!IsValid(utf8)) return false;
        context = new ActivityContext(
            ActivityTraceId.CreateFromUtf8String(utf8.Slice(3, 32)),
            ActivitySpanId.CreateFromUtf8String(utf8.Slice(36, 16)),
            SampledFlag(utf8),
            isRemote: true);
        return true;
    }

    /// <summary>Whether <paramref name="utf8"/> is a well-formed value; checks without allocating anything.</summary>
    public static bool IsValid(ReadOnlySpan<byte> utf8) => Validate(utf8);

    /// <summary>Whether <paramref name="value"/> is a well-formed value; checks without allocating anything.</summary>
    public static bool IsValid(ReadOnlySpan<char> value) => Validate(value);

    /// <summary>
    /// The W3C rules, for chars and UTF-8 bytes alike (anything outside ASCII, a lone surrogate or a stray
    /// UTF-8 byte included, is simply not a lowercase hex digit or a dash):
    /// version: 2 lowercase hex, not <c>ff</c>; version 00 is exactly 55 characters; a later version is at
    /// least 55, its first 55 read as version 00, and a longer one must go on with a dash (its tail is for
    /// that version and is ignored; only 55 characters are ever read, so a huge value costs no more);
    /// trace-id 32 and parent-id 16 lowercase hex, neither all zeros; flags 2 lowercase hex.
    /// </summary>
    private static bool Validate<T>(ReadOnlySpan<T> s) where T : unmanaged, IBinaryInteger<T>
    {
        if (s.Length < Length) return false;
        if (!IsHex(s[0]) || !IsHex(s[1])) return false;
        var version = (HexValue(s[0]) << 4) | HexValue(s[1]);
        if (version == 0xff) return false;
        if (version == 0 ? s.Length != Length : s.Length > Length && !Is(s[Length], '-')) return false;
        if (!Is(s[2], '-') || !Is(s[35], '-') || !Is(s[52], '-')) return false;
        return IsHexId(s.Slice(3, 32)) && IsHexId(s.Slice(36, 16)) && IsHex(s[53]) && IsHex(s[54]);
    }

    /// <summary>All lowercase hex, and not all zeros (W3C: an all-zero id is invalid).</summary>
    private static bool IsHexId<T>(ReadOnlySpan<T> id) where T : unmanaged, IBinaryInteger<T>
    {
        var nonZero = false;
        foreach (var c in id)
        {
            if (!IsHex(c)) return false;
            nonZero |= !Is(c, '0');
        }
        return nonZero;
    }

    private static bool Is<T>(T c, char expected) where T : unmanaged, IBinaryInteger<T> => int.CreateTruncating(c) == expected;

    private static bool IsHex<T>(T c) where T : unmanaged, IBinaryInteger<T>
    {
        // Through uint, so a char above 0xFFFF cannot wrap and a byte keeps its value.
        var v = uint.CreateTruncating(c);
        return v - '0' <= 9u || v - 'a' <= 5u;
    }

    private static int HexValue<T>(T c) where T : unmanaged, IBinaryInteger<T>
    {
        var v = int.CreateTruncating(c);
        return v <= '9' ? v - '0' : v - 'a' + 10;
    }

    /// <summary>Only the sampled bit: version 00 defines no other, and a later version's bits mean nothing here.</summary>
    private static ActivityTraceFlags SampledFlag<T>(ReadOnlySpan<T> s) where T : unmanaged, IBinaryInteger<T> =>
        (HexValue(s[54]) & 1) == 1 ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None;

    private static bool IsFormattable(ActivityContext context) =>
        IsValid(context.TraceId.ToHexString().AsSpan(), 32) && IsValid(context.SpanId.ToHexString().AsSpan(), 16);

    private static bool IsValid(ReadOnlySpan<char> id, int length) => id.Length == length && IsHexId(id);

    private static void Write(Span<char> chars, ActivityContext context)
    {
        chars[0] = '0';
        chars[1] = '0';
        chars[2] = '-';
        context.TraceId.ToHexString().AsSpan().CopyTo(chars[3..]);
        chars[35] = '-';
        context.SpanId.ToHexString().AsSpan().CopyTo(chars[36..]);
        chars[52] = '-';
        chars[53] = '0';
        chars[54] = (context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? '1' : '0';
    }
}
