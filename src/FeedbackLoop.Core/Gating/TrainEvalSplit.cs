using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Core.Gating;

/// <summary>
/// Which side of the train/eval split a pair falls on, decided by a hash of its <c>pair_id</c> alone: a pair
/// stays on the same side in every run, on every machine and as the dataset grows, so an eval set never leaks
/// into a later training set and the candidate and the incumbent are judged on comparable pairs.
/// </summary>
public static class TrainEvalSplit
{
    // 2^-53: the top 53 bits of the hash map exactly onto the doubles in [0, 1) with even spacing.
    private const double UnitOf53Bits = 1.0 / (1UL << 53);

    /// <summary>
    /// True when the pair belongs to the eval set. The fraction is SHA-256 of the id's UTF-8 bytes, first 8 bytes
    /// read big-endian as an unsigned integer, scaled into [0, 1); the pair is eval when that is below
    /// <paramref name="evalFraction"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is not in [0, 1].</exception>
    public static bool IsEval(string pairId, double evalFraction)
    {
        ArgumentNullException.ThrowIfNull(pairId);
        // The negated form also rejects NaN, which no comparison would.
        if (!(evalFraction >= 0 && evalFraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(evalFraction), evalFraction, "The eval fraction must be in [0, 1].");
        }
        return FractionOf(pairId) < evalFraction;
    }

    /// <summary>The pair's position in [0, 1): uniform over ids, fixed for a given id.</summary>
    internal static double FractionOf(string pairId)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var byteCount = Encoding.UTF8.GetByteCount(pairId);
        var buffer = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(pairId, buffer);
        SHA256.HashData(buffer, hash);
        // Big-endian so the answer does not depend on the machine's byte order.
        var bits = BinaryPrimitives.ReadUInt64BigEndian(hash);
        return (bits >> 11) * UnitOf53Bits;
    }
}
