using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// Phone numbers: a bounded regex finds runs of digits joined by single separators, and the shape of the run
/// (or a phone word just before it) decides. What decides, and why:
/// <list type="bullet">
/// <item>a phone word (<c>call</c>, <c>tel</c>, <c>mobile</c>, <c>Handy</c>, ...) in the 32 characters before: a phone (7–15 digits);</item>
/// <item>an order, invoice, ISBN or similar word there instead: not a phone;</item>
/// <item><c>+</c> or <c>00</c> in front: a phone (8–15 digits);</item>
/// <item>dates (<c>15.03.2024</c>), ISBNs, thousands (<c>8 000 000</c>) and decimals or version numbers (dots not in a
/// 3.3.4 or 2.2.2.2.2 phone grouping): not a phone;</item>
/// <item>otherwise 8–12 digits in 2–6 groups, or one group of 10–11 digits starting with a trunk <c>0</c>: a phone.
/// Bare runs of other lengths (epoch milliseconds, order numbers) are left alone.</item>
/// </list>
/// </summary>
internal sealed partial class PhoneRedactor : Redactor
{
    public override string Name => "phone";

    public override string Redact(string text) =>
        RedactionContext.HasDigit(text) ? Candidate().Replace(text, m => IsPhone(text, m.Index, m.Value) ? "[phone]" : m.Value) : text;

    private static bool IsPhone(string text, int index, string candidate)
    {
        if (!DigitGroups.TryParse(candidate, out var groups, out var separators)) return false;
        var digits = groups.Digits;
        if (digits is < 7 or > 15) return false;
        if (groups.LooksLikeDate || groups.LooksLikeIsbn(candidate)) return false;
        var before = RedactionContext.Before(text, index, 32);
        if (PhoneWord().IsMatch(before)) return true;
        if (NotAPhoneWord().IsMatch(before)) return false;
        var international = candidate[0] == '+' || candidate.StartsWith("00", StringComparison.Ordinal);
        if (international) return digits >= 8;
        if (digits is < 8 or > 12) return false;
        if (groups.Count == 1) return candidate[0] == '0' && candidate[1] != '0' && digits is 10 or 11;
        if (groups.Count > 6) return false;
        if (separators == '.') return groups.Is(3, 3, 4) || (groups.Count == 5 && groups.AllOfLength(2) && candidate[0] == '0');
        if (candidate.Contains('(')) return true;
        return !groups.LooksLikeThousands;
    }

    // An optional + or (, then a digit, up to 24 digits/separators, and a digit; not inside a longer run of
    // digit groups, a word, a decimal or a negative number. Bounded, so the backtracking is too.
    // The lookbehinds sit after the first character so that the engine can look for that character with a
    // vectorized search instead of trying every position.
    [GeneratedRegex(@"[+(\d](?<!(?:[\w+\-./:#@$€£]|\d[ .\-])[+(\d])[\d \-.()]{5,25}\d(?![\w\-]|[ .\-]?\d|[.,]\d)", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex Candidate();

    [GeneratedRegex(@"\b(?:phone|tel|telephone|telefon|téléphone|teléfono|call|calling|mobile|mobil|cell|cellphone|handy|fax|whatsapp|sms|text me|ring|reach me|appelez|portable|llámame|móvil|bel me|contact)\b", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex PhoneWord();

    [GeneratedRegex(@"\b(?:order|invoice|ref|reference|sku|isbn|ticket|item|part|serial|tracking|version|build|model|product|article|ean|upc)\b", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex NotAPhoneWord();
}

/// <summary>
/// Card numbers: 13–19 digits, bare or grouped with one kind of separator (space, dash or dot) and a first group
/// of four, an issuer prefix in use (2–6: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro),
/// and a passing Luhn check.
/// </summary>
internal sealed partial class PaymentCardRedactor : Redactor
{
    public override string Name => "payment_card";

    public override string Redact(string text) => RedactionContext.HasDigit(text) ? Candidate().Replace(text, m => IsCard(m.Value) ? "[card]" : m.Value) : text;

    private static bool IsCard(string candidate)
    {
        if (candidate[0] is < '2' or > '6') return false;
        if (!DigitGroups.TryParse(candidate, out var groups, out var separators) || separators == DigitGroups.Mixed) return false;
        if (groups.Count > 1 && groups[0] != 4) return false;
        return PassesLuhn(candidate);
    }

    internal static bool PassesLuhn(string candidate)
    {
        Span<int> digits = stackalloc int[19];
        var count = 0;
        foreach (var c in candidate)
        {
            if (!char.IsAsciiDigit(c)) continue;
            if (count == digits.Length) return false;
            digits[count++] = c - '0';
        }
        if (count < 13) return false;
        var sum = 0;
        for (var i = 0; i < count; i++)
        {
            var d = digits[count - 1 - i];
            if (i % 2 == 1)
            {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
        }
        return sum % 10 == 0;
    }

    // Each step takes exactly one digit, with at most one separator before it, so there is one way to match.
    [GeneratedRegex(@"\d(?<!(?:[\w\-.]|\d[ \-.])\d)(?:[ \-.]?\d){12,18}(?![\w]|[ \-.]?\d)", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex Candidate();
}

/// <summary>The digit groups of a number as written (<c>+1 (415) 555-0132</c> → 1, 3, 3, 4), for shape checks.</summary>
internal readonly struct DigitGroups
{
    /// <summary>The separator value when a number mixes separators (or uses none but parentheses).</summary>
    public const char Mixed = '*';

    private readonly int[] _lengths;
    private readonly string _digits;

    private DigitGroups(int[] lengths, string digits)
    {
        _lengths = lengths;
        _digits = digits;
    }

    public int Count => _lengths.Length;
    public int Digits => _digits.Length;
    public int this[int i] => _lengths[i];

    /// <summary>
    /// Splits <paramref name="candidate"/> into digit groups. False when two separators follow each other
    /// (<c>1990 - 2000</c>). <paramref name="separators"/> is the one separator used, <c>\0</c> for none,
    /// or <see cref="Mixed"/>.
    /// </summary>
    public static bool TryParse(string candidate, out DigitGroups groups, out char separators)
    {
        var lengths = new List<int>(8);
        var digits = new System.Text.StringBuilder(candidate.Length);
        separators = '\0';
        var run = 0;
        var gap = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c))
            {
                run++;
                gap = 0;
                digits.Append(c);
                continue;
            }
            if (run > 0) lengths.Add(run);
            run = 0;
            if (c is '+' or '(' or ')')
            {
                if (c != '+') separators = Mixed; // (415) 555-0132: parentheses count as a separator of their own
                continue;
            }
            if (++gap > 1)
            {
                groups = default;
                return false;
            }
            separators = separators == '\0' || separators == c ? c : Mixed;
        }
        if (run > 0) lengths.Add(run);
        groups = new DigitGroups([.. lengths], digits.ToString());
        return true;
    }

    public bool Is(params ReadOnlySpan<int> lengths) => _lengths.AsSpan().SequenceEqual(lengths);

    public bool AllOfLength(int length) => Array.TrueForAll(_lengths, l => l == length);

    /// <summary>d.m.yyyy, yyyy-mm-dd and the like, with a plausible year.</summary>
    public bool LooksLikeDate
    {
        get
        {
            if (Count != 3) return false;
            static bool Year(string d, int start) => d.Substring(start, 2) is "19" or "20";
            if (_lengths[2] == 4 && _lengths[0] <= 2 && _lengths[1] <= 2) return Year(_digits, _lengths[0] + _lengths[1]);
            if (_lengths[0] == 4 && _lengths[1] <= 2 && _lengths[2] <= 2) return Year(_digits, 0);
            return false;
        }
    }

    /// <summary>1–3 digits, then groups of exactly three: how large numbers are written (<c>8 000 000</c>).</summary>
    public bool LooksLikeThousands => Count >= 2 && _lengths[0] <= 2 && _lengths.AsSpan(1).IndexOfAnyExcept(3) < 0;

    /// <summary>An ISBN-13 (978/979 and its check digit) or a grouped ISBN-10 ending in a one-character check group.</summary>
    public bool LooksLikeIsbn(string candidate)
    {
        var d = _digits;
        if (d.Length == 13 && (d.StartsWith("978", StringComparison.Ordinal) || d.StartsWith("979", StringComparison.Ordinal)))
        {
            var sum = 0;
            for (var i = 0; i < 12; i++) sum += (d[i] - '0') * (i % 2 == 0 ? 1 : 3);
            return (10 - sum % 10) % 10 == d[12] - '0';
        }
        if (d.Length == 10 && Count == 4 && _lengths[3] == 1 && !candidate.Contains('+'))
        {
            var sum = 0;
            for (var i = 0; i < 10; i++) sum += (d[i] - '0') * (10 - i);
            return sum % 11 == 0;
        }
        return false;
    }
}

/// <summary>
/// E-mail addresses. The regex finds the <c>@domain</c> part, anchored on the <c>@</c> (a vectorized search), and the
/// code takes the whole local part before it: every letter, mark, digit and <c>._%+-'</c> back to the previous
/// other character, so no head of the address is left behind (<c>jürgen.mü[email]</c>). Domain: labels of
/// letters, marks, digits and inner hyphens, then a letter TLD or an <c>xn--</c> one.
/// </summary>
internal sealed partial class EmailRedactor : Redactor
{
    private const int MaxLocalPart = 256; // RFC 5321 allows 64; a longer run is still taken whole, up to this

    public override string Name => "email";

    public override string Redact(string text)
    {
        if (!text.Contains('@')) return text;
        System.Text.StringBuilder? redacted = null;
        var copied = 0;
        for (var m = Domain().Match(text); m.Success; m = m.NextMatch())
        {
            var start = m.Index;
            while (start > copied && m.Index - start < MaxLocalPart && IsLocalPartChar(text[start - 1])) start--;
            while (start < m.Index && text[start] is '.' or '\'') start++; // a sentence's dot or an opening quote is not part of it
            if (start == m.Index) continue; // "@handle.com": no local part
            redacted ??= new System.Text.StringBuilder(text.Length);
            redacted.Append(text, copied, start - copied).Append("[email]");
            copied = m.Index + m.Length;
        }
        return redacted is null ? text : redacted.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool IsLocalPartChar(char c) =>
        char.IsLetterOrDigit(c) || c is '.' or '_' or '%' or '+' or '-' or '\'' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark;

    [GeneratedRegex(
        @"@(?:[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}\-]{0,61}[\p{L}\p{M}\p{N}])?\.){1,8}(?:\p{L}[\p{L}\p{M}]{1,62}|xn--[a-z0-9\-]{1,59})(?![\p{L}\p{M}\p{N}\-])",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex Domain();
}

/// <summary>Looks at the words just before a finding, for the checks that need context.</summary>
internal static class RedactionContext
{
    /// <summary>Whether <paramref name="text"/> holds one of <paramref name="words"/>: the cheap test before a pattern that needs one.</summary>
    public static bool Has(string text, WordSet words) => words.AnyIn(text);

    /// <summary>Whether <paramref name="text"/> holds an ASCII digit: every number-shaped redactor needs one, and most text has few.</summary>
    public static bool HasDigit(string text) => text.AsSpan().IndexOfAnyInRange('0', '9') >= 0;

    /// <summary>Up to <paramref name="length"/> characters of <paramref name="text"/> before <paramref name="index"/>.</summary>
    public static ReadOnlySpan<char> Before(string text, int index, int length)
    {
        var start = Math.Max(0, index - length);
        return text.AsSpan(start, index - start);
    }
}
