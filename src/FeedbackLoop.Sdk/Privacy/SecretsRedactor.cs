using System.Buffers;
using System.Buffers.Text;
using System.Text.RegularExpressions;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// Secrets, in passes from the most specific shape to the most generic, so that a later, looser pass never sees
/// half of a token an earlier one knows whole. Every pattern is bounded (no unbounded repeat over a class that can
/// also match what follows it), so a pass costs time linear in the text.
/// </summary>
internal sealed partial class SecretsRedactor : Redactor
{
    private const string Secret = "[secret]";

    public override string Name => "secrets";

    public override string Redact(string text)
    {
        // Each pass runs only when the text holds the character or word its pattern cannot match without: most
        // chat turns hold no "://", "=" or "-----BEGIN", and a skipped pass costs one vectorized search.
        var urls = text.Contains("://", StringComparison.Ordinal);
        var assigns = text.AsSpan().IndexOfAny(':', '=') >= 0;
        if (text.Contains("-----BEGIN ", StringComparison.Ordinal)) text = PrivateKeyBlock().Replace(text, Secret);
        if (urls) text = Webhook().Replace(text, Secret);
        if (RedactionContext.Has(text, TokenPrefixes)) text = KnownToken().Replace(text, Secret);
        if (urls) text = UrlUserInfo().Replace(text, "://" + Secret + "@");
        if (text.Contains('=')) text = UrlSecretParameter().Replace(text, m => m.Groups["name"].Value + Secret);
        if (text.Contains('=')) text = ConnectionStringSecret().Replace(text, m => m.Groups["name"].Value + Secret);
        if (RedactionContext.Has(text, AuthorizationSchemes)) text = AuthorizationCredential().Replace(text, m => IsCredential(m.Groups["scheme"].Value, m.Groups["value"].Value) ? m.Groups["scheme"].Value + " " + Secret : m.Value);
        if (text.Contains("aws", StringComparison.OrdinalIgnoreCase) || text.Contains("secret", StringComparison.OrdinalIgnoreCase))
            text = AwsSecretKeyNearby().Replace(text, m => HasUpperLowerDigit(m.Groups["value"].Value) ? m.Groups["context"].Value + Secret : m.Value);
        if (assigns && RedactionContext.Has(text, SecretNames)) text = Assignment().Replace(text, ReplaceAssignment);
        return RedactionContext.Has(text, PasswordWords)
            ? PasswordPhrase().Replace(text, m => IsSpokenPassword(m.Groups["name"].Value, m.Groups["value"].Value) ? m.Groups["name"].Value + m.Groups["sep"].Value + Secret : m.Value)
            : text;
    }

    // The literal starts of the known token shapes (case matters), the secret names and the password words: a
    // text holding none of them skips the pattern.
    private static readonly WordSet TokenPrefixes = new WordSet(
        ["eyJ", "sk-", "sk_", "rk_", "whsec_", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA",
         "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glimt-", "gloas-",
         "glsoat-", "glft-", "glagent-", "glffct-", "glwt-", "GR1348941", "xox", "xapp-", "AIza", "GOCSPX-", "ya29.", "SG.", "npm_",
         "hf_", "api_org_", "AC", "SK", "dop_v1_", "shpat_", "shpca_", "shppa_", "shpss_", "pypi-"], StringComparison.Ordinal);

    private static readonly WordSet AuthorizationSchemes = new WordSet(["bearer", "basic", "token"], StringComparison.OrdinalIgnoreCase);

    private static readonly WordSet SecretNames = new WordSet(
        ["key", "secret", "pass", "pwd", "pin", "token", "credential"], StringComparison.OrdinalIgnoreCase);

    private static readonly WordSet PasswordWords = new WordSet(
        ["pass", "pwd", "pin", "kennwort", "mot de passe", "contraseña", "wifi key"], StringComparison.OrdinalIgnoreCase);

    private static string ReplaceAssignment(Match m)
    {
        var value = m.Groups["value"].Value;
        var quote = value[0] is '"' or '\'' && value.Length > 1 ? value[0].ToString() : "";
        var bare = quote.Length == 0 ? value : value[1..^1];
        return IsAssignedSecret(m.Groups["name"].Value, bare) ? m.Groups["name"].Value + m.Groups["sep"].Value + quote + Secret + quote : m.Value;
    }

    // Basic carries base64 of user:password; Bearer/Token values are opaque but random (a digit, or long and
    // mixed-case), which tells "Bearer 8f3b…" from "bearer instrument".
    private static bool IsCredential(string scheme, string value)
    {
        if (scheme.Equals("basic", StringComparison.OrdinalIgnoreCase))
        {
            var padded = value.TrimEnd('=');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var bytes = new byte[padded.Length];
            if (Base64.DecodeFromUtf8(System.Text.Encoding.ASCII.GetBytes(padded), bytes, out _, out var written) != OperationStatus.Done) return false;
            return bytes.AsSpan(0, written).Contains((byte)':');
        }
        return value.Any(char.IsAsciiDigit) || (value.Length >= 20 && value.Any(char.IsAsciiLetterUpper) && value.Any(char.IsAsciiLetterLower));
    }

    private static bool HasUpperLowerDigit(string value) =>
        value.Any(char.IsAsciiLetterUpper) && value.Any(char.IsAsciiLetterLower) && value.Any(char.IsAsciiDigit);

    // Passwords and PINs may be short; other names need a value that looks like a key, not a word.
    private static bool IsAssignedSecret(string name, string value)
    {
        var lower = name.ToLowerInvariant();
        if (lower.EndsWith("pin", StringComparison.Ordinal)) return value.All(char.IsAsciiDigit);
        var passwordLike = lower.Contains("pass", StringComparison.Ordinal) || lower.EndsWith("pwd", StringComparison.Ordinal);
        return passwordLike ? value.Length >= 4 : value.Length >= 6 && !value.StartsWith('<') && !value.StartsWith('[');
    }

    // "password is required" is a sentence about a password, not one; a PIN is digits.
    private static bool IsSpokenPassword(string name, string value)
    {
        var bare = value.Trim('\'', '"', '“', '”', '‘', '’');
        if (name.StartsWith("pin", StringComparison.OrdinalIgnoreCase)) return bare.Length >= 4 && bare.All(char.IsAsciiDigit);
        return bare.Length >= 4 && !NotAPassword.Contains(bare);
    }

    private static readonly HashSet<string> NotAPassword = new(StringComparer.OrdinalIgnoreCase)
    {
        "required", "incorrect", "wrong", "invalid", "correct", "missing", "empty", "expired", "changed", "reset",
        "weak", "strong", "same", "different", "stored", "hashed", "encrypted", "saved", "valid", "needed",
        "mandatory", "optional", "protected", "long", "short", "secure", "insecure", "still", "never", "always",
        "being", "supposed", "sent", "shown", "visible", "hidden", "unknown", "blank", "forgotten", "easy", "hard",
        "simple", "generated", "managed", "case-sensitive", "case", "your", "their", "there", "here", "what", "that",
        "this", "also", "only", "just", "very", "less", "more", "something", "anything", "nothing", "used", "set",
        "too", "not", "the", "and", "for", "now",
    };

    // PEM private keys, whole (anything up to the END line, 16 KiB at most) or cut off (then up to the end of
    // their base64 body).
    [GeneratedRegex(@"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[\s\S]{0,16384}?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=:,\-\s]{0,16384})", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex PrivateKeyBlock();

    [GeneratedRegex(@"https://(?:hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,256}|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{5,25}/[A-Za-z0-9_\-]{20,128})", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex Webhook();

    // Provider token shapes, by prefix. The upper bounds are generous (a longer token loses only its tail past them).
    [GeneratedRegex(
        @"\b(?:" +
        @"eyJ[A-Za-z0-9_\-]{5,4096}\.eyJ[A-Za-z0-9_\-]{5,8192}\.[A-Za-z0-9_\-]{0,2048}" + // JWT
        @"|sk-[A-Za-z0-9_\-]{20,256}" + // OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-api03-, sk-ant-admin01-), DeepSeek, ...
        @"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,256}|whsec_[A-Za-z0-9+/=]{20,256}" + // Stripe
        @"|(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[0-9A-Z]{16}" + // AWS access key ids
        @"|gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255}" + // GitHub
        @"|gl(?:pat|dt|rt|ptt|cbt|imt|oas|soat|ft|agent|ffct|wt)-[A-Za-z0-9_\-]{20,64}|GR1348941[A-Za-z0-9_\-]{20,64}" + // GitLab
        @"|xox[abposer]-[A-Za-z0-9\-]{10,255}|xapp-\d-[A-Za-z0-9\-]{10,255}" + // Slack
        @"|AIza[0-9A-Za-z_\-]{35}|GOCSPX-[A-Za-z0-9_\-]{20,64}|ya29\.[0-9A-Za-z_\-]{20,2048}" + // Google
        @"|SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}" + // SendGrid
        @"|npm_[A-Za-z0-9]{36}" + // npm
        @"|hf_[A-Za-z0-9]{30,40}|api_org_[A-Za-z0-9]{30,40}" + // Hugging Face
        @"|(?:AC|SK)[0-9a-f]{32}" + // Twilio account and API key SIDs
        @"|dop_v1_[a-f0-9]{64}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,256}" + // DigitalOcean, Shopify, PyPI
        @")",
        RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex KnownToken();

    // scheme://user:password@host — the user and password go (the last @ before the path ends them). Anchored on
    // the literal "://", which the engine finds with a vectorized search.
    [GeneratedRegex(@"://[^\s/?#@:]{0,128}:[^\s/?#]{1,256}@", RegexOptions.CultureInvariant, MatchTimeoutMilliseconds)]
    private static partial Regex UrlUserInfo();

    [GeneratedRegex(@"(?<name>[?&#](?:access_token|refresh_token|id_token|token|api[_\-]?key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|password|passwd|pwd|secret|client_secret|auth|code|session|sessionid)=)[^&#\s""'<>]{1,2048}", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex UrlSecretParameter();

    // ADO.NET, ODBC and Azure connection strings: Password=…; AccountKey=…; SharedAccessKey=…
    [GeneratedRegex(@"(?<name>(?<![\w])(?:Password|Pwd|AccountKey|SharedAccessKey|SharedAccessSignature|ClientSecret|Client Secret)\s{0,3}=\s{0,3})(?:""[^""]{0,256}""|'[^']{0,256}'|[^;\s""']{1,512})", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex ConnectionStringSecret();

    [GeneratedRegex(@"\b(?<scheme>Bearer|Basic|Token)\s{1,4}(?<value>[A-Za-z0-9\-._~+/]{8,4096}=*)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex AuthorizationCredential();

    // An AWS secret access key has no prefix: 40 base64 characters, recognised only a few words after "aws" or "secret".
    [GeneratedRegex(@"(?<context>\b(?:aws|secret)\b[^\n]{0,40}?)(?<value>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex AwsSecretKeyNearby();

    // name = value, name: value, "name": "value" — for secret-sounding names, also as the end of a longer name
    // (AWS_SECRET_ACCESS_KEY, db.password: the match starts after the _ or the dot, which stay as they are).
    [GeneratedRegex(
        @"(?<name>(?<![A-Za-z0-9])(?:api[_\-]?key|apikey|secret(?:[_\-]?(?:access[_\-]?)?key)?|client[_\-]?secret|password|passwort|passwd|passphrase|pass|pwd|pin|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|token|private[_\-]?key|credentials?)(?![\w\-]))(?<sep>[""']?\s{0,4}[:=]\s{0,4})(?<value>""[^""\n]{1,256}""|'[^'\n]{1,256}'|[^\s""',;]{1,512})",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeoutMilliseconds)]
    private static partial Regex Assignment();

    // "my password is hunter2", "the wifi password was 'blue tiger lamp'", "PIN is 4821", "mot de passe : Soleil2023".
    private const string PasswordPhrasePattern =
        @"(?<name>\b(?:password|passwort|kennwort|passcode|passphrase|pwd|pin(?:\s?code)?|mot\s+de\s+passe|contraseña|wifi\s+key)\b)(?<sep>\s{1,4}(?:is|was|ist|est|es|war|era|:)\s{1,4}|\s{0,4}:\s{0,4})(?<value>""[^""\n]{1,128}""|'[^'\n]{1,128}'|“[^”\n]{1,128}”|[^\s""'“”]{1,128}?)(?=[.,;:)]?(?:\s|$))";

    private const RegexOptions PasswordPhraseOptions = RegexOptions.CultureInvariant | RegexOptions.IgnoreCase;

#if NET9_0_OR_GREATER
    [GeneratedRegex(PasswordPhrasePattern, PasswordPhraseOptions, MatchTimeoutMilliseconds)]
    private static partial Regex PasswordPhrase();
#else
    // net8.0's regex source generator emits code for this pattern that does not compile (CS0165 in its lazy loop), so
    // the net8.0 build compiles it at run time instead: same pattern, same options, same timeout (docs/adr/0027).
    private static readonly Regex PasswordPhraseCompiled =
        new(PasswordPhrasePattern, PasswordPhraseOptions | RegexOptions.Compiled, TimeSpan.FromMilliseconds(MatchTimeoutMilliseconds));

    private static Regex PasswordPhrase() => PasswordPhraseCompiled;
#endif
}
