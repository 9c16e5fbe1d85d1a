using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// Replaces personal data or secrets in the free text of events (<c>input</c>, <c>output</c>,
/// <c>edited_output</c>) before the event is serialized, spooled or sent. The built-ins err toward
/// redacting: a false positive costs a few characters of training text, a false negative leaks.
/// </summary>
public abstract partial class Redactor
{
    /// <summary>A short name for logs and docs (<c>email</c>, <c>phone</c>, ...).</summary>
    public abstract string Name { get; }

    /// <summary>Returns <paramref name="text"/> with what this redactor finds replaced; the same instance when nothing was found.</summary>
    public abstract string Redact(string text);

    /// <summary>E-mail addresses → <c>[email]</c>.</summary>
    public static Redactor Email { get; } = new RegexRedactor("email", EmailPattern(), "[email]");

    /// <summary>Phone numbers (7–15 digits, international or national formats) → <c>[phone]</c>; ISO dates and IPv4 addresses are left alone.</summary>
    public static Redactor Phone { get; } = new PhoneRedactor();

    /// <summary>Payment card numbers (13–19 digits, spaces or dashes allowed, Luhn-checked) → <c>[card]</c>.</summary>
    public static Redactor PaymentCard { get; } = new PaymentCardRedactor();

    /// <summary>
    /// Common secret formats → <c>[secret]</c>: bearer tokens, JWTs, private key blocks, OpenAI/Anthropic-style
    /// <c>sk-</c> keys, AWS access key ids, GitHub, Slack and Google API tokens, and values of
    /// <c>api_key=</c>/<c>password:</c>/<c>token=</c>-style assignments.
    /// </summary>
    public static Redactor Secrets { get; } = new SecretsRedactor();

    /// <summary>
    /// The privacy default: secrets, cards, e-mails, phones, in that order (secrets and cards first so that a
    /// token's or card's digits are not half-taken as a phone number).
    /// </summary>
    public static IReadOnlyList<Redactor> Defaults { get; } = [Secrets, PaymentCard, Email, Phone];

    /// <summary>An app's own pattern: every match of <paramref name="pattern"/> becomes <paramref name="replacement"/>.</summary>
    public static Redactor FromRegex(string name, Regex pattern, string replacement) => new RegexRedactor(name, pattern, replacement);

    /// <summary>An app's own redaction function (it must return its input when it changes nothing).</summary>
    public static Redactor FromFunc(string name, Func<string, string> redact) => new FuncRedactor(name, redact);

    /// <summary>Runs every redactor over <paramref name="text"/> in order.</summary>
    public static string Apply(IReadOnlyList<Redactor> redactors, string text)
    {
        for (var i = 0; i < redactors.Count; i++) text = redactors[i].Redact(text);
        return text;
    }

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", RegexOptions.CultureInvariant)]
    private static partial Regex EmailPattern();

    private sealed class RegexRedactor(string name, Regex pattern, string replacement) : Redactor
    {
        public override string Name => name;
        public override string Redact(string text) => pattern.Replace(text, replacement);
    }

    private sealed class FuncRedactor(string name, Func<string, string> redact) : Redactor
    {
        public override string Name => name;
        public override string Redact(string text) => redact(text);
    }
}
