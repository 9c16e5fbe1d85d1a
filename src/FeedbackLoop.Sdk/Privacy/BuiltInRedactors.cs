using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>Phone numbers: a regex finds digit groups, a check on the digits decides.</summary>
internal sealed partial class PhoneRedactor : Redactor
{
    public override string Name => "phone";

    public override string Redact(string text) => Candidate().Replace(text, m => IsPhone(m.Value) ? "[phone]" : m.Value);

    private static bool IsPhone(string candidate)
    {
        var digits = 0;
        foreach (var c in candidate) if (char.IsAsciiDigit(c)) digits++;
        if (digits is < 7 or > 15) return false;
        return !IsoDate().IsMatch(candidate) && !Ipv4().IsMatch(candidate);
    }

    // An optional +country code, an optional (area) code, then groups of digits joined by single
    // separators; not glued to letters or other digits.
    [GeneratedRegex(@"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,5}\)[ .\-]?)?\d{2,5}(?:[ .\-]?\d{2,5}){1,4}(?!\w)", RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoDate();

    [GeneratedRegex(@"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4();
}

/// <summary>Card numbers: 13–19 digits with optional single spaces or dashes, kept only if the Luhn check passes.</summary>
internal sealed partial class PaymentCardRedactor : Redactor
{
    public override string Name => "payment_card";

    public override string Redact(string text) => Candidate().Replace(text, m => PassesLuhn(m.Value) ? "[card]" : m.Value);

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

    [GeneratedRegex(@"(?<![\d\w])\d(?:[ \-]?\d){12,18}(?![\d\w])", RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();
}

/// <summary>Well-known token shapes, then generic <c>key = value</c> assignments of secret-sounding names.</summary>
internal sealed partial class SecretsRedactor : Redactor
{
    public override string Name => "secrets";

    public override string Redact(string text)
    {
        text = PrivateKeyBlock().Replace(text, "[secret]");
        text = Bearer().Replace(text, "Bearer [secret]");
        text = KnownTokens().Replace(text, "[secret]");
        return Assignment().Replace(text, m => m.Groups["name"].Value + m.Groups["sep"].Value + "[secret]");
    }

    [GeneratedRegex(@"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", RegexOptions.CultureInvariant)]
    private static partial Regex PrivateKeyBlock();

    [GeneratedRegex(@"\bBearer\s+[A-Za-z0-9\-._~+/]{8,}=*", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();

    // JWT; sk-/sk-proj-/sk-ant- keys; AWS access key ids; GitHub tokens; Slack tokens; Google API keys.
    [GeneratedRegex(
        @"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}|\bsk-[A-Za-z0-9_\-]{20,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}|\bxox[abprs]-[A-Za-z0-9\-]{10,}|\bAIza[0-9A-Za-z_\-]{35}",
        RegexOptions.CultureInvariant)]
    private static partial Regex KnownTokens();

    [GeneratedRegex(
        @"(?<name>\b(?:api[_\-]?key|apikey|secret|client[_\-]?secret|password|passwd|pwd|access[_\-]?token|auth[_\-]?token|token)\b)(?<sep>\s*[:=]\s*[""']?)(?<value>[^\s""',;]{6,})",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Assignment();
}
