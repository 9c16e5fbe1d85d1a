using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// Replaces personal data or secrets in the free text of events (<c>input</c>, <c>output</c>,
/// <c>edited_output</c>) before the event is serialized, spooled or sent. The built-ins err toward
/// redacting: a false positive costs a few characters of training text, a false negative leaks.
/// </summary>
public abstract partial class Redactor
{
    /// <summary>
    /// The longest one built-in pattern may run over one text. The patterns are bounded so they run in time
    /// linear in the text; this is only a backstop. When it is hit the redactor throws, and the sender drops that
    /// event (counted as <c>sender_error</c>) rather than send text it could not redact.
    /// </summary>
    internal const int MatchTimeoutMilliseconds = 1_000;

    /// <summary>A short name for logs and docs (<c>email</c>, <c>phone</c>, ...).</summary>
    public abstract string Name { get; }

    /// <summary>Returns <paramref name="text"/> with what this redactor finds replaced; the same instance when nothing was found.</summary>
    public abstract string Redact(string text);

    /// <summary>E-mail addresses, Unicode and IDN ones included → <c>[email]</c>; the whole address, never a tail of it.</summary>
    public static Redactor Email { get; } = new EmailRedactor();

    /// <summary>
    /// Phone numbers in international (<c>+</c>, <c>00</c>) and national formats → <c>[phone]</c>. Digit groups
    /// are kept as phones by their shape (grouping, trunk prefix) or a nearby word such as <c>call</c> or
    /// <c>tel</c>; dates, ISBNs, decimals, version numbers and long bare numbers are left alone.
    /// </summary>
    public static Redactor Phone { get; } = new PhoneRedactor();

    /// <summary>Payment card numbers (13–19 digits, spaces, dots or dashes allowed, issuer prefix and Luhn-checked) → <c>[card]</c>.</summary>
    public static Redactor PaymentCard { get; } = new PaymentCardRedactor();

    /// <summary>
    /// Secrets → <c>[secret]</c>: private key blocks (also cut-off ones), provider tokens (AWS, GitHub, GitLab,
    /// Slack, Stripe, Twilio, SendGrid, npm, Hugging Face, OpenAI, Anthropic, Google, ...), JWTs, Slack and Discord
    /// webhooks, <c>Basic</c>/<c>Bearer</c> credentials, passwords in URLs and connection strings, secret URL
    /// parameters (<c>token=</c>, <c>key=</c>, <c>sig=</c>, ...), <c>api_key=</c>/<c>password:</c>-style
    /// assignments and <c>password is …</c> phrases.
    /// </summary>
    public static Redactor Secrets { get; } = new SecretsRedactor();

    /// <summary>IBANs (mod-97-checked, with or without spaces) → <c>[iban]</c>.</summary>
    public static Redactor Iban { get; } = new IbanRedactor();

    /// <summary>US social security numbers, UK National Insurance numbers and passport numbers (after a word such as <c>passport</c>) → <c>[id]</c>.</summary>
    public static Redactor NationalId { get; } = new NationalIdRedactor();

    /// <summary>Dates after a birth word (<c>born</c>, <c>DOB</c>, <c>date of birth</c>, <c>geboren</c>, ...) → <c>[dob]</c>; other dates are left alone.</summary>
    public static Redactor DateOfBirth { get; } = new DateOfBirthRedactor();

    /// <summary>IPv4 and IPv6 addresses → <c>[ip]</c>; loopback and unspecified addresses and version numbers are left alone.</summary>
    public static Redactor IpAddress { get; } = new IpAddressRedactor();

    /// <summary>
    /// Street addresses by common shapes (<c>221B Baker Street</c>, <c>Hauptstraße 12</c>, <c>12 rue de la Paix</c>,
    /// <c>Calle de Alcalá 48</c>) and postcodes after a word such as <c>postcode</c> → <c>[address]</c>. A heuristic:
    /// free-form addresses without a street word are not found.
    /// </summary>
    public static Redactor PostalAddress { get; } = new PostalAddressRedactor();

    /// <summary>
    /// The privacy default, in this order: secrets, IBANs, cards, national ids, dates of birth, e-mails, IP
    /// addresses, postal addresses, phones. Longer and validated shapes go first so that their digits are not
    /// half-taken by a looser one (a card's or IBAN's digits as a phone, a connection string's password as an e-mail).
    /// </summary>
    public static IReadOnlyList<Redactor> Defaults { get; } = [Secrets, Iban, PaymentCard, NationalId, DateOfBirth, Email, IpAddress, PostalAddress, Phone];

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
