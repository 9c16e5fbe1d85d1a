using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// How far delivery has got, as the pump last recorded it: every record before <see cref="Offset"/> in
/// segment <see cref="Segment"/> (and every record of an older segment) is settled, and so are the records
/// at <see cref="AckedAhead"/>, which the destination acknowledged out of order in a partly delivered batch.
/// Keeping those lets a restart skip them instead of sending them twice.
/// </summary>
/// <remarks>
/// The cursor file, little endian:
/// <code>
/// offset  size  field
///  0      4     magic "FLSC" (46 4C 53 43)
///  4      1     format version (2)
///  5      3     reserved (0)
///  8      8     segment number
/// 16      8     offset in that segment
/// 24      4     count N of acknowledged offsets beyond it
/// 28      8·N   those offsets
/// 28+8·N  32    HMAC-SHA256 under the spool's key of everything before
/// </code>
/// Format 1 ended in a CRC-32 instead; such a cursor reads as damaged (delivery restarts at the oldest
/// segment, and the spool refuses format-1 segments anyway). The MAC keeps a planted cursor from making the
/// spool skip records it never delivered.
/// </remarks>
internal sealed record SpoolCursor(long Segment, long Offset, IReadOnlyList<long> AckedAhead)
{
    /// <summary>Nothing delivered yet: the oldest segment, from its start.</summary>
    public static readonly SpoolCursor Start = new(0, 0, []);

    private const uint Magic = 0x4353_4C46; // "FLSC" as a little-endian uint
    private const byte Version = 2;
    private const int FixedBytes = 28;

    public byte[] Encode(SpoolKey key)
    {
        var bytes = new byte[FixedBytes + (8 * AckedAhead.Count) + SpoolKey.Size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        span[4] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], Segment);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], Offset);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], AckedAhead.Count);
        for (var i = 0; i < AckedAhead.Count; i++) BinaryPrimitives.WriteInt64LittleEndian(span[(FixedBytes + (8 * i))..], AckedAhead[i]);
        key.Sign(span[..^SpoolKey.Size], span[^SpoolKey.Size..]);
        return bytes;
    }

    /// <summary>Reads a cursor file's content; false when it is not a whole cursor signed with <paramref name="key"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, SpoolKey key, [NotNullWhen(true)] out SpoolCursor? cursor)
    {
        cursor = null;
        if (data.Length < FixedBytes + SpoolKey.Size
            || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic
            || data[4] != Version
            || !key.Verifies(data[..^SpoolKey.Size], data[^SpoolKey.Size..]))
        {
            return false;
        }
        var count = BinaryPrimitives.ReadInt32LittleEndian(data[24..]);
        var segment = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(data[16..]);
        if (count < 0 || data.Length != FixedBytes + (8L * count) + SpoolKey.Size || segment < 0 || offset < 0) return false;
        var acked = new long[count];
        for (var i = 0; i < count; i++) acked[i] = BinaryPrimitives.ReadInt64LittleEndian(data[(FixedBytes + (8 * i))..]);
        cursor = new SpoolCursor(segment, offset, acked);
        return true;
    }
}
