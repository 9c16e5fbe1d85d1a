using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// IBANs: a country code, two check digits and 11–30 letters or digits, with or without single spaces. The
/// country's IBAN length (when known) says where it ends, and the ISO 7064 mod-97 check must pass.
/// </summary>
internal sealed partial class IbanRedactor : Redactor
{
    public override string Name => "iban";

    public override string Redact(string text) => RedactionContext.HasDigit(text) ? Candidate().Replace(text, Replace) : text;

    private static string Replace(Match m)
    {
        // The candidate may run on into a following upper-case word ("… 0130 00 BIC COBADEFFXXX"): take the longest
        // prefix, ending where a group ends, that has the country's length (or, for other countries, passes mod 97).
        var value = m.Value;
        var known = Lengths.TryGetValue(value[..2], out var length);
        for (var end = value.Length; end >= 15; end--)
        {
            if (end < value.Length && value[end] != ' ') continue;
            var candidate = value[..end];
            if (known && candidate.Length - candidate.Count(c => c == ' ') != length) continue;
            if (PassesMod97(candidate)) return "[iban]" + value[end..];
        }
        return value;
    }

    internal static bool PassesMod97(string iban)
    {
        Span<char> chars = stackalloc char[40];
        var n = 0;
        foreach (var c in iban)
        {
            if (c == ' ') continue;
            if (n == chars.Length) return false;
            chars[n++] = char.ToUpperInvariant(c);
        }
        if (n < 15) return false;
        // Move the first four characters to the end, read letters as 10–35, and take the remainder mod 97.
        var remainder = 0;
        for (var i = 0; i < n; i++)
        {
            var c = chars[(i + 4) % n];
            if (char.IsAsciiDigit(c)) remainder = (remainder * 10 + (c - '0')) % 97;
            else if (char.IsAsciiLetterUpper(c)) remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            else return false;
        }
        return remainder == 1;
    }

    // IBAN lengths by country (SWIFT's registry).
    private static readonly Dictionary<string, int> Lengths = new(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22,
        ["BR"] = 29, ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["DO"] = 28,
        ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22, ["GE"] = 22, ["GI"] = 23,
        ["GL"] = 18, ["GR"] = 27, ["GT"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26,
        ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LC"] = 32, ["LI"] = 21, ["LT"] = 20, ["LU"] = 20,
        ["LV"] = 21, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19, ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NL"] = 18,
        ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["SA"] = 24,
        ["SC"] = 31, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["ST"] = 25, ["SV"] = 28, ["TL"] = 23, ["TN"] = 24,
        ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20,
    };

    [GeneratedRegex(@"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex Candidate();
}

/// <summary>
/// Government ids → <c>[id]</c>: US social security numbers (dashed, with the invalid area and group numbers left
/// alone; bare or spaced only after <c>SSN</c>), UK National Insurance numbers (HMRC's letter rules), and passport
/// numbers after a passport word.
/// </summary>
internal sealed partial class NationalIdRedactor : Redactor
{
    public override string Name => "national_id";

    public override string Redact(string text)
    {
        if (!RedactionContext.HasDigit(text)) return text;
        if (RedactionContext.Has(text, SsnWords)) text = SsnAfterWord().Replace(text, m => m.Groups["lead"].Value + "[id]");
        if (text.Contains('-')) text = Ssn().Replace(text, m => IsSsn(m.Value) ? "[id]" : m.Value);
        text = InsuranceNumber().Replace(text, m => m.Value[..2] is "BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ" ? m.Value : "[id]");
        return RedactionContext.Has(text, PassportWords) ? Passport().Replace(text, m => m.Groups["lead"].Value + "[id]") : text;
    }

    private static readonly WordSet SsnWords = new WordSet(["ssn", "social security"], StringComparison.OrdinalIgnoreCase);
    private static readonly WordSet PassportWords = new WordSet(["passport", "reisepass", "passeport", "pasaporte", "passaporto"], StringComparison.OrdinalIgnoreCase);

    // Area 000, 666 and 900–999, group 00 and serial 0000 are never issued.
    private static bool IsSsn(string value) =>
        value[..3] is not ("000" or "666") && value[0] != '9' && value.Substring(4, 2) != "00" && value.Substring(7, 4) != "0000";

    [GeneratedRegex(@"(?<lead>\b(?:SSN|social\s+security(?:\s+(?:number|no\.?|#))?)\s{0,3}(?:is\s+|:\s*|#\s*|=\s*)?)\d{3}[ \-]?\d{2}[ \-]?\d{4}(?!\d)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex SsnAfterWord();

    [GeneratedRegex(@"\d(?<![\w\-]\d)\d{2}-\d{2}-\d{4}(?![\w\-]|\.\d)", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex Ssn();

    [GeneratedRegex(@"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9][A-Z])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex InsuranceNumber();

    [GeneratedRegex(@"(?<lead>\b(?:passport|reisepass|passeport|pasaporte|passaporto)(?:\s{1,3}(?:no\.?|nr\.?|n[°º]\.?|number|num\.?|#|id))?\s{0,3}(?:is\s+|:\s*|#\s*|=\s*|-\s*)?)(?=[A-Z]{0,3}\d)[A-Z0-9]{6,10}(?![A-Za-z0-9])", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex Passport();
}

/// <summary>Dates of birth: a date (numeric, ISO or with a month name) right after a birth word → <c>[dob]</c>.</summary>
internal sealed partial class DateOfBirthRedactor : Redactor
{
    public override string Name => "date_of_birth";

    public override string Redact(string text) =>
        RedactionContext.HasDigit(text) && RedactionContext.Has(text, BirthWords) ? AfterBirthWord().Replace(text, m => m.Groups["lead"].Value + "[dob]") : text;

    private static readonly WordSet BirthWords = new WordSet(
        ["born", "birth", "dob", "d.o.b", "geboren", "geburts", "né", "nee le", "naissance", "nacimiento", "nacido"], StringComparison.OrdinalIgnoreCase);

    private const string Month =
        "jan(?:uary|vier)?|feb(?:ruary|ruar)?|févr(?:ier)?|mar(?:ch|s)?|märz|apr(?:il)?|avril|may|mai|jun(?:e|i)?|juin|jul(?:y|i)?|juillet|aug(?:ust)?|août"
        + "|sep(?:t(?:ember|embre)?)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|dec(?:ember)?|dez(?:ember)?|déc(?:embre)?"
        + "|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre";

    [GeneratedRegex(
        @"(?<lead>\b(?:born(?:\s+on)?|date\s+of\s+birth|birth\s*date|birthday(?:\s+is)?|d\.?o\.?b\.?|geboren(?:\s+am)?|geburtsdatum|geburtstag|né(?:e)?\s+le|date\s+de\s+naissance|fecha\s+de\s+nacimiento|nacido\s+el)(?:\s{0,3}(?:is|was|:|-|=))?\s{0,3})"
        + @"(?:\d{1,2}[./\-]\d{1,2}[./\-](?:\d{4}|\d{2})(?!\d)|\d{4}-\d{1,2}-\d{1,2}(?!\d)"
        + @"|\d{1,2}(?:st|nd|rd|th|er)?\.?\s{1,3}(?:of\s+|de\s+)?(?:" + Month + @")\.?,?\s{1,3}(?:de\s+)?\d{4}"
        + @"|(?:" + Month + @")\.?\s{1,3}\d{1,2}(?:st|nd|rd|th)?,?\s{1,3}\d{4})",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex AfterBirthWord();
}

/// <summary>
/// IPv4 and IPv6 addresses → <c>[ip]</c>. Loopback and unspecified addresses identify no one and stay; a dotted
/// quad after a version word (<c>version 4.2.1.0</c>) is a version, not an address.
/// </summary>
internal sealed partial class IpAddressRedactor : Redactor
{
    public override string Name => "ip_address";

    public override string Redact(string text)
    {
        if (!RedactionContext.HasDigit(text)) return text;
        if (text.Contains(':')) text = V6Candidate().Replace(text, m => IsPersonalV6(m.Value) ? "[ip]" : m.Value);
        return text.Contains('.') ? V4().Replace(text, m => IsPersonalV4(text, m) ? "[ip]" : m.Value) : text;
    }

    private static bool IsPersonalV4(string text, Match m)
    {
        if (!IPAddress.TryParse(m.Value, out var address) || address.AddressFamily != AddressFamily.InterNetwork) return false; // an octet over 255
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any)) return false;
        return !VersionWord().IsMatch(RedactionContext.Before(text, m.Index, 16));
    }

    private static bool IsPersonalV6(string candidate)
    {
        // A real address has a digit and either "::" or all eight groups; that keeps "a::b" and 12:30:45 out.
        if (!candidate.Any(char.IsAsciiDigit)) return false;
        if (!candidate.Contains("::", StringComparison.Ordinal) && candidate.Count(c => c == ':') != 7) return false;
        var zone = candidate.IndexOf('%');
        if (!IPAddress.TryParse(zone < 0 ? candidate : candidate[..zone], out var address) || address.AddressFamily != AddressFamily.InterNetworkV6) return false;
        return !IPAddress.IsLoopback(address) && !address.Equals(IPAddress.IPv6None);
    }

    [GeneratedRegex(@"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?![\w]|\.\d)", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex V4();

    [GeneratedRegex(@"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){1,7}(?:\.\d{1,3}){0,3}(?:%[\w.]{1,15})?(?![\w:])", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex V6Candidate();

    [GeneratedRegex(@"\b(?:version|ver|v|release|build|firmware|update|upgrade)\b\.?\s*$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex VersionWord();
}

/// <summary>
/// Street addresses → <c>[address]</c>, by shape: a house number, capitalised words and a street word
/// (<c>221B Baker Street</c>, <c>350 Fifth Ave</c>); a German or Dutch street name ending in a street word and
/// a number (<c>Hauptstraße 12</c>, <c>Müllerstr. 5a</c>, <c>Keizersgracht 123</c>); a French number + street word
/// + name (<c>12 rue de la Paix</c>); a Spanish or Italian street word + name + number (<c>Calle de Alcalá 48</c>);
/// and a postcode after <c>postcode</c>/<c>ZIP</c>/<c>PLZ</c>. Addresses in other shapes are not found.
/// </summary>
internal sealed partial class PostalAddressRedactor : Redactor
{
    public override string Name => "postal_address";

    public override string Redact(string text)
    {
        if (!RedactionContext.HasDigit(text)) return text;
        if (RedactionContext.Has(text, EnglishStreetWords)) text = English().Replace(text, "[address]");
        if (RedactionContext.Has(text, GermanDutchStreetWords)) text = GermanDutch().Replace(text, "[address]");
        if (RedactionContext.Has(text, FrenchStreetWords)) text = French().Replace(text, "[address]");
        if (RedactionContext.Has(text, SpanishItalianStreetWords)) text = SpanishItalian().Replace(text, "[address]");
        return RedactionContext.Has(text, PostcodeWords) ? Postcode().Replace(text, m => m.Groups["lead"].Value + "[address]") : text;
    }

    // The street words each shape needs (their shortest forms: "St" covers "Street"); a text with none skips the shape.
    private static readonly WordSet EnglishStreetWords = new WordSet(
        ["St", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Dr", "Court", "Ct", "Pl", "Sq", "Terrace", "Way", "Close",
         "Crescent", "Highway", "Hwy", "Parkway", "Pkwy", "Loop", "Circle", "Cir", "Row", "Mews", "Gardens", "Walk"], StringComparison.Ordinal);
    private static readonly WordSet GermanDutchStreetWords = new WordSet(
        ["straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "damm", "ufer", "chaussee", "gracht", "straat", "laan", "plein", "kade", "steeg"],
        StringComparison.OrdinalIgnoreCase);
    private static readonly WordSet FrenchStreetWords = new WordSet(
        ["rue", "avenue", "av.", "boulevard", "bd", "place", "chemin", "allée", "impasse", "quai", "route", "cours"], StringComparison.OrdinalIgnoreCase);
    private static readonly WordSet SpanishItalianStreetWords = new WordSet(
        ["Calle", "C/", "Avenida", "Avda.", "Plaza", "Paseo", "Carrer", "Via", "Viale", "Piazza", "Corso"], StringComparison.Ordinal);

    private static readonly WordSet PostcodeWords = new WordSet(["post", "zip", "plz"], StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(
        @"\d(?<!\w\d)\d{0,4}[A-Za-z]?(?:-\d{1,5})?,?\s{1,3}(?:[A-Z][\p{L}'\-]{1,20}\.?\s{1,3}){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|Close|Crescent|Highway|Hwy|Parkway|Pkwy|Loop|Circle|Cir|Row|Mews|Gardens|Walk)\b\.?",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex English();

    [GeneratedRegex(
        @"[A-ZÄÖÜ](?<!\w[A-ZÄÖÜ])(?:[\p{L}\-]{1,40}(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|chaussee|gracht|straat|laan|plein|kade|steeg)|(?:[\p{L}\-]{1,40}\s(?:Straße|Strasse|Weg|Platz|Allee|Gasse))|(?<=[SWPAG])(?:traße|trasse|eg|latz|llee|asse))\s{0,2}\d{1,4}\s?[a-z]?(?![\w])",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex GermanDutch();

    [GeneratedRegex(
        @"\d(?<!\w\d)\d{0,3}(?:\s?(?:bis|ter))?,?\s{1,3}(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|cours)\s{1,3}(?:(?:(?:de|du|des|la|le|l'|d')\s{0,3}){1,3}[\p{L}'\-]{2,30}|\p{Lu}[\p{L}'\-]{1,30})(?:\s{1,3}\p{Lu}[\p{L}'\-]{1,30}){0,3}",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex French();

    [GeneratedRegex(
        @"\b(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo|Carrer|Via|Viale|Piazza|Corso)\s{1,3}(?:(?:de|del|la|las|los|di|della|dei)\s{1,3}){0,2}\p{Lu}[\p{L}'\-]{1,30}(?:\s{1,3}\p{Lu}[\p{L}'\-]{1,30}){0,3},?\s{1,3}\d{1,4}(?![\w])",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex SpanishItalian();

    [GeneratedRegex(
        @"(?<lead>\b(?:post\s?code|postal\s+code|zip(?:\s?code)?|PLZ|code\s+postal)\s{0,3}(?:is\s+|:\s*)?)(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{5}(?:-\d{4})?|\d{4}\s?[A-Z]{2})(?![\w])",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex Postcode();
}
