using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// Turns an app's own user id (an account number, an e-mail) into a stable pseudonymous <c>user_id</c>:
/// <c>u_</c> + 32 hex chars of HMAC-SHA256 under the app's secret key. The same id and key always give
/// the same value, so feedback still joins per user; without the key the value cannot be reversed or
/// matched against a list of known ids. Keep the key out of source control and rotate it only with a
/// plan: a new key makes every user look new.
/// </summary>
public sealed class UserIdHasher
{
    private readonly byte[] _key;

    /// <summary>Creates a hasher with a secret key of at least 16 bytes.</summary>
    public UserIdHasher(ReadOnlySpan<byte> key)
    {
        if (key.Length < 16) throw new ArgumentException("the key must be at least 16 bytes (use 32 random bytes)", nameof(key));
        _key = key.ToArray();
    }

    /// <summary>Creates a hasher from a key given as text (for example from configuration); at least 16 characters.</summary>
    public static UserIdHasher FromSecret(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (secret.Length < 16) throw new ArgumentException("the secret must be at least 16 characters", nameof(secret));
        return new UserIdHasher(Encoding.UTF8.GetBytes(secret));
    }

    /// <summary>The pseudonymous id of <paramref name="userId"/>.</summary>
    public string Hash(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(userId), mac);
        return "u_" + Convert.ToHexStringLower(mac[..16]);
    }
}
