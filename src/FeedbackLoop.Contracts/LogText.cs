using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Contracts;

/// <summary>
/// The one way a value that could carry a sender's text goes into a log line, a metric or an error message (issue 10,
/// finding 8). <see cref="Escape"/> keeps a line one line and a terminal a terminal; <see cref="Hash"/> names a value
/// without showing it.
/// </summary>
public static class LogText
{
    /// <summary>The most characters <see cref="Escape"/> keeps; the rest is cut and counted.</summary>
    public const int MaxLength = 200;

    /// <summary>
    /// <paramref name="value"/> with every control or format character (CR, LF, ESC, DEL, C1, bidi overrides, zero-width
    /// and line separators, lone surrogates) written as <c>\uXXXX</c> and a backslash doubled, cut to
    /// <see cref="MaxLength"/> characters: a log line stays one line, cannot forge another, and sends no escape sequence.
    /// </summary>
    public static string Escape(string? value)
    {
        if (value is null) return "";
        if (value.Length <= MaxLength && !NeedsEscape(value)) return value;

        var kept = Math.Min(value.Length, MaxLength);
        if (kept < value.Length && char.IsHighSurrogate(value[kept - 1])) kept--; // never cut a pair in two
        var text = new StringBuilder(kept + 16);
        for (var i = 0; i < kept; i++)
        {
            var c = value[i];
            if (c == '\\') text.Append(@"\\");
            else if (IsUnsafe(value, i)) text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else text.Append(c);
        }
        if (kept < value.Length) text.Append(CultureInfo.InvariantCulture, $"…(+{value.Length - kept} chars)");
        return text.ToString();
    }

    /// <summary>
    /// A short stable name for <paramref name="value"/> that does not show it: <c>#</c> and the first 12 hex digits of
    /// its UTF-8 SHA-256. The same value gets the same name in every process, so log lines can be matched up.
    /// </summary>
    public static string Hash(string value)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(value), digest);
        return "#" + Convert.ToHexString(digest[..6]).ToLowerInvariant(); // ToHexStringLower is .NET 9+; this also builds for net8.0
    }

    private static bool NeedsEscape(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' || IsUnsafe(value, i)) return true;
        }
        return false;
    }

    private static bool IsUnsafe(string value, int i)
    {
        var c = value[i];
        if (char.IsHighSurrogate(c)) return i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]);
        if (char.IsLowSurrogate(c)) return i == 0 || !char.IsHighSurrogate(value[i - 1]);
        return char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
    }
}
