using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using FeedbackLoop.Collector.Keys;

namespace FeedbackLoop.Review.Accounts;

/// <summary>One reviewer account: never the token, only its SHA-256 (the token is 256 random bits, like a write key).</summary>
public sealed record ReviewerRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("token_id")] string TokenId,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>The reviewers file's document.</summary>
public sealed record ReviewerDocument([property: JsonPropertyName("reviewers")] IReadOnlyList<ReviewerRecord> Reviewers);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ReviewerDocument))]
internal sealed partial class ReviewerJsonContext : JsonSerializerContext;

/// <summary>
/// The review app's accounts, <c>&lt;data&gt;/review/reviewers.json</c>: an <see cref="OwnerOnlyFile"/> like the
/// collector's keys file, holding each reviewer's name and the SHA-256 of their sign-in token. The token has the write
/// keys' shape with its own prefix (<c>flr_&lt;id&gt;_&lt;secret&gt;</c>), so one hash and one comparison serve both.
/// Removing a reviewer signs them out: the app checks the account on every request.
/// </summary>
public sealed partial class ReviewerFile(string path)
{
    /// <summary>The reviewer tokens' prefix (a write key's is <c>flk_</c>).</summary>
    public const string TokenPrefix = "flr_";

    /// <summary>The rule for a reviewer name, as error messages state it.</summary>
    public const string NameRule = "1 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit";

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>The reviewers file under a data folder.</summary>
    public static ReviewerFile Under(string dataRoot) => new(System.IO.Path.Combine(dataRoot, "review", "reviewers.json"));

    /// <summary>Whether <paramref name="name"/> is a valid reviewer name.</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>The accounts; none when the file does not exist yet.</summary>
    /// <exception cref="InvalidDataException">The file is not a reviewers file; the message says so without quoting it.</exception>
    public IReadOnlyList<ReviewerRecord> Read()
    {
        if (!File.Exists(Path)) return [];
        ReviewerDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(Path), ReviewerJsonContext.Default.ReviewerDocument);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{Path} is not a reviewers file (line {(e.LineNumber ?? 0) + 1}).", e);
        }
        if (document?.Reviewers is not { } reviewers || reviewers.Any(r => r is null || !IsWellFormed(r)))
            throw new InvalidDataException($"{Path} is not a reviewers file: every reviewer needs name, token_id, created_at and sha256.");
        return reviewers;
    }

    /// <summary>Adds a reviewer and returns the account and their token (the only time it exists in the clear).</summary>
    /// <exception cref="ArgumentException">The name breaks the rule or is taken.</exception>
    public (ReviewerRecord Record, string Token) Add(string name, DateTimeOffset now)
    {
        if (!IsValidName(name)) throw new ArgumentException($"a reviewer name is {NameRule}.");
        return Update(reviewers =>
        {
            if (reviewers.Any(r => r.Name == name))
                throw new ArgumentException($"reviewer {name} exists: remove it first ('reviewers remove {name}') to issue a new token.");
            string id, token;
            do (id, token) = WriteKey.Create(TokenPrefix);
            while (reviewers.Any(r => r.TokenId == id));
            var record = new ReviewerRecord(name, id, now.ToUniversalTime(), Convert.ToHexStringLower(WriteKey.Hash(token)));
            reviewers.Add(record);
            return (reviewers, (record, token));
        });
    }

    /// <summary>Removes a reviewer; their decisions stay in the audit logs under their name.</summary>
    /// <exception cref="ArgumentException">No reviewer has this name.</exception>
    public void Remove(string name) => Update(reviewers =>
    {
        if (reviewers.RemoveAll(r => r.Name == name) == 0) throw new ArgumentException("no reviewer has this name (see 'reviewers list').");
        return (reviewers, true);
    });

    /// <summary>The account <paramref name="token"/> signs in as, when it is <paramref name="name"/>'s current token; else null.</summary>
    public ReviewerRecord? SignIn(string? name, string? token)
    {
        if (name is null || token is null || WriteKey.IdOf(token, TokenPrefix) is not { } id) return null;
        var record = Read().FirstOrDefault(r => r.TokenId == id);
        return record is not null && record.Name == name && WriteKey.Matches(token, Convert.FromHexString(record.Sha256)) ? record : null;
    }

    /// <summary>Whether <paramref name="name"/> still has the account with <paramref name="tokenId"/> (a removed or re-added reviewer does not).</summary>
    public bool StillHas(string name, string tokenId) => Read().Any(r => r.Name == name && r.TokenId == tokenId);

    /// <summary>One line per reviewer for <c>reviewers list</c>: name, token id, created.</summary>
    public static string Describe(ReviewerRecord r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Name}  {r.TokenId}  {r.CreatedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}");

    private T Update<T>(Func<List<ReviewerRecord>, (List<ReviewerRecord> Reviewers, T Result)> change)
    {
        using var writerLock = OwnerOnlyFile.Lock(Path);
        var (reviewers, result) = change([.. Read()]);
        OwnerOnlyFile.Replace(Path, stream => JsonSerializer.Serialize(stream, new ReviewerDocument(reviewers), ReviewerJsonContext.Default.ReviewerDocument));
        return result;
    }

    private static bool IsWellFormed(ReviewerRecord r) =>
        IsValidName(r.Name) && r.TokenId is { Length: WriteKey.IdLength } && r.Sha256 is { Length: 64 } && r.Sha256.All(Uri.IsHexDigit);

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
