using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Deterministic row ids: the same inputs give the same id on every run and machine, which is what
/// makes a replay of the same events unable to add a second row.
/// </summary>
public static class StableId
{
    /// <summary>32 lowercase hex chars: the first 128 bits of SHA-256 over the parts, unit-separated.</summary>
    public static string Of(string part1, string part2, string part3)
    {
        var text = string.Concat(part1, "\u001f", part2, "\u001f", part3);
        Span<byte> hash = stackalloc byte[32];
        var byteCount = Encoding.UTF8.GetByteCount(text);
        var buffer = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, buffer);
        SHA256.HashData(buffer, hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary><c>pair_id</c> = hash(signal, chosen generation id or edit event id, rejected generation id).</summary>
    public static string Pair(string signal, string chosenId, string rejectedId) => Of(signal, chosenId, rejectedId);

    /// <summary><c>label_id</c> = hash("label", generation id, user id): one final label per (generation, user).</summary>
    public static string Label(string generationId, string userId) => Of("label", generationId, userId);
}
