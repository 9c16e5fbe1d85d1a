using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// The key the spool signs its records and cursor with (HMAC-SHA256), so that it delivers only what it wrote
/// itself: a CRC finds accidents, but anyone can compute one for a record of their own.
/// </summary>
internal sealed class SpoolKey
{
    /// <summary>Bytes of a MAC, and of a generated key.</summary>
    public const int Size = 32;

    // Domain separation: an app may reuse one secret for several purposes (UserIdSecret, say), and the spool's
    // MACs must never be the values another feature derives from the same secret.
    private static readonly byte[] Purpose = "FeedbackLoop spool record key v2"u8.ToArray();

    private readonly byte[] _key;

    private SpoolKey(byte[] key) => _key = key;

    /// <summary>The key from <see cref="SpoolOptions.IntegrityKey"/>.</summary>
    public static SpoolKey FromSecret(string secret) => new(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Purpose));

    /// <summary>A generated key, as kept in the spool folder.</summary>
    public static SpoolKey FromBytes(ReadOnlySpan<byte> key) => new(HMACSHA256.HashData(key, Purpose));

    /// <summary>Writes the MAC of <paramref name="data"/> into <paramref name="mac"/> (<see cref="Size"/> bytes).</summary>
    public void Sign(ReadOnlySpan<byte> data, Span<byte> mac) => HMACSHA256.HashData(_key, data, mac);

    /// <summary>Whether <paramref name="mac"/> is the MAC of <paramref name="data"/> (compared in constant time).</summary>
    public bool Verifies(ReadOnlySpan<byte> data, ReadOnlySpan<byte> mac)
    {
        Span<byte> expected = stackalloc byte[Size];
        HMACSHA256.HashData(_key, data, expected);
        return mac.Length == Size && CryptographicOperations.FixedTimeEquals(expected, mac);
    }
}
