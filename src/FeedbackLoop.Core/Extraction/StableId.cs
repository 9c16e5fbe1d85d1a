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
        // The UTF-8 of part1 \u001f part2 \u001f part3, written straight into one buffer: no joined string per row.
        var byteCount = Encoding.UTF8.GetByteCount(part1) + Encoding.UTF8.GetByteCount(part2) + Encoding.UTF8.GetByteCount(part3) + 2;
        var buffer = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        var at = Encoding.UTF8.GetBytes(part1, buffer);
        buffer[at++] = 0x1f;
        at += Encoding.UTF8.GetBytes(part2, buffer[at..]);
        buffer[at++] = 0x1f;
        Encoding.UTF8.GetBytes(part3, buffer[at..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer, hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary><c>pair_id</c> = hash(signal, chosen generation id or edit event id, rejected generation id).</summary>
    public static string Pair(string signal, string chosenId, string rejectedId) => Of(signal, chosenId, rejectedId);

    /// <summary><c>label_id</c> = hash("label", generation id, user id): one final label per (generation, user).</summary>
    public static string Label(string generationId, string userId) => Of("label", generationId, userId);
}
