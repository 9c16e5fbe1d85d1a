using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// The on-disk form of one spooled event. A segment file is nothing but these records back to back,
/// and every integer is little endian:
/// <code>
/// offset  size   field
///  0      4      magic "FLSR" (46 4C 53 52)
///  4      1      format version (2)
///  5      1      flags (0, reserved)
///  6      2      event_id length in UTF-8 bytes (E)
///  8      2      session_id length in UTF-8 bytes (S)
/// 10      2      reserved (0)
/// 12      4      JSON length in bytes (J)
/// 16      4      CRC-32 (IEEE) of the payload
/// 20      4      CRC-32 (IEEE) of bytes 0..19: the header's own check
/// 24      E+S+J  payload: event_id, session_id, JSON
/// 24+E+S+J 32    HMAC-SHA256 under the spool's key of everything before it in the record
/// </code>
/// The header carries its own check so that a garbled length is recognised rather than trusted: a record
/// whose header verifies but whose payload does not can be stepped over exactly (its length is known to
/// be good), while a header that fails leaves no trustworthy way to the next record. The CRCs find
/// accidents; the MAC finds records the spool did not write (anyone can compute a CRC). Format 1 had no
/// MAC; the spool refuses a folder that still holds it (see <see cref="IsFormat1"/>).
/// </summary>
internal static class SpoolRecord
{
    /// <summary>Bytes before the payload.</summary>
    public const int HeaderSize = 24;

    /// <summary>Bytes after the payload: the MAC.</summary>
    public const int TrailerSize = SpoolKey.Size;

    /// <summary>Largest JSON a record holds: far above the contract's 32 KiB, and a bound a reader can trust.</summary>
    public const int MaxJsonBytes = 16 << 20;

    private const uint Magic = 0x5253_4C46; // "FLSR" as a little-endian uint
    private const byte Version = 2;

    /// <summary>The record size of <paramref name="evt"/>; false when its ids do not fit the format (64 KiB each) or its JSON exceeds <see cref="MaxJsonBytes"/>.</summary>
    public static bool TryMeasure(SerializedEvent evt, out int size)
    {
        var eventIdBytes = Encoding.UTF8.GetByteCount(evt.EventId);
        var sessionIdBytes = Encoding.UTF8.GetByteCount(evt.SessionId);
        if (eventIdBytes > ushort.MaxValue || sessionIdBytes > ushort.MaxValue || evt.Json.Length > MaxJsonBytes)
        {
            size = 0;
            return false;
        }
        size = HeaderSize + eventIdBytes + sessionIdBytes + evt.Json.Length + TrailerSize;
        return true;
    }

    /// <summary>Writes <paramref name="evt"/> signed with <paramref name="key"/> into <paramref name="destination"/>, which is exactly its measured size.</summary>
    public static void Write(Span<byte> destination, SerializedEvent evt, SpoolKey key)
    {
        var payload = destination[HeaderSize..^TrailerSize];
        var eventIdBytes = Encoding.UTF8.GetBytes(evt.EventId, payload);
        var sessionIdBytes = Encoding.UTF8.GetBytes(evt.SessionId, payload[eventIdBytes..]);
        evt.Json.Span.CopyTo(payload[(eventIdBytes + sessionIdBytes)..]);

        var header = destination[..HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        header[4] = Version;
        header[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)eventIdBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], (ushort)sessionIdBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)evt.Json.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], Crc32.HashToUInt32(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], Crc32.HashToUInt32(header[..20]));
        key.Sign(destination[..^TrailerSize], destination[^TrailerSize..]);
    }

    /// <summary>Reads a record header; false when it is garbled (bad magic, unknown version, failed check or impossible length).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> header, out RecordHeader result)
    {
        result = default;
        if (header.Length < HeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic
            || header[4] != Version
            || BinaryPrimitives.ReadUInt32LittleEndian(header[20..]) != Crc32.HashToUInt32(header[..20]))
        {
            return false;
        }
        var jsonBytes = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (jsonBytes > MaxJsonBytes) return false;
        result = new RecordHeader(
            BinaryPrimitives.ReadUInt16LittleEndian(header[6..]),
            BinaryPrimitives.ReadUInt16LittleEndian(header[8..]),
            (int)jsonBytes,
            BinaryPrimitives.ReadUInt32LittleEndian(header[16..]));
        return true;
    }

    /// <summary>Whether <paramref name="start"/>, the first bytes of a segment, begins a record of format 1 (before records carried a MAC).</summary>
    public static bool IsFormat1(ReadOnlySpan<byte> start) =>
        start.Length >= 5 && BinaryPrimitives.ReadUInt32LittleEndian(start) == Magic && start[4] == 1;

    /// <summary>Whether the payload of <paramref name="record"/> (the whole record) is what was written under <paramref name="header"/>.</summary>
    public static bool PayloadIntact(in RecordHeader header, ReadOnlySpan<byte> record) =>
        record.Length == header.RecordBytes && Crc32.HashToUInt32(record.Slice(HeaderSize, header.PayloadBytes)) == header.PayloadCrc;

    /// <summary>Whether <paramref name="record"/> (the whole record) carries a MAC made with <paramref name="key"/>.</summary>
    public static bool Authentic(ReadOnlySpan<byte> record, SpoolKey key) =>
        record.Length > TrailerSize && key.Verifies(record[..^TrailerSize], record[^TrailerSize..]);

    /// <summary>The event in a verified record; its JSON stays in <paramref name="record"/>, which the caller gives up.</summary>
    public static SerializedEvent Decode(in RecordHeader header, byte[] record) => new(
        Encoding.UTF8.GetString(record, HeaderSize, header.EventIdBytes),
        Encoding.UTF8.GetString(record, HeaderSize + header.EventIdBytes, header.SessionIdBytes),
        record.AsMemory(HeaderSize + header.EventIdBytes + header.SessionIdBytes, header.JsonBytes));
}

/// <summary>A verified record header.</summary>
internal readonly record struct RecordHeader(int EventIdBytes, int SessionIdBytes, int JsonBytes, uint PayloadCrc)
{
    public int PayloadBytes => EventIdBytes + SessionIdBytes + JsonBytes;

    public int RecordBytes => SpoolRecord.HeaderSize + PayloadBytes + SpoolRecord.TrailerSize;
}
