using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Collector.Keys;

/// <summary>
/// The shape of a write key: <c>flk_&lt;key id&gt;_&lt;secret&gt;</c>, the id 12 lower-case hex characters, the secret 32
/// random bytes as 43 base64url characters. The id lets the collector find the one stored hash to compare with, so a
/// lookup never depends on the secret; the secret makes guessing hopeless (256 bits).
/// </summary>
internal static class WriteKey
{
    public const string Prefix = "flk_";
    public const int IdLength = 12;
    public const int SecretBytes = 32;
    public const int SecretLength = 43;
    public const int Length = 4 + IdLength + 1 + SecretLength;

    /// <summary>
    /// A new key id and the whole key (shown once, never stored). Other secrets of the same shape (the review app's
    /// reviewer tokens) pass their own four-character <paramref name="prefix"/>, so a token never passes for a write key.
    /// </summary>
    public static (string KeyId, string Key) Create(string prefix = Prefix)
    {
        if (prefix.Length != Prefix.Length) throw new ArgumentException("a token prefix has four characters", nameof(prefix));
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
        var secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(SecretBytes));
        return (id, prefix + id + "_" + secret);
    }

    /// <summary>The key id of a well-formed key with <paramref name="prefix"/>, or null: anything else is refused before any lookup.</summary>
    public static string? IdOf(ReadOnlySpan<char> key, string prefix = Prefix)
    {
        if (key.Length != Length || !key.StartsWith(prefix, StringComparison.Ordinal) || key[Prefix.Length + IdLength] != '_') return null;
        var id = key.Slice(Prefix.Length, IdLength);
        foreach (var c in id)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f'))) return null;
        }
        foreach (var c in key[(Prefix.Length + IdLength + 1)..])
        {
            if (c is not ((>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_')) return null;
        }
        return id.ToString();
    }

    /// <summary>
    /// SHA-256 of the whole key. A fast hash is right here: the key is 256 random bits, so no dictionary or brute force
    /// reaches it, and a slow password hash would cost milliseconds on every request for no gain.
    /// </summary>
    public static byte[] Hash(ReadOnlySpan<char> key) => SHA256.HashData(Encoding.UTF8.GetBytes(key.ToArray()));

    /// <summary>Whether <paramref name="key"/> hashes to <paramref name="storedHash"/>, in time independent of where they differ.</summary>
    public static bool Matches(ReadOnlySpan<char> key, ReadOnlySpan<byte> storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(key), storedHash);

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
