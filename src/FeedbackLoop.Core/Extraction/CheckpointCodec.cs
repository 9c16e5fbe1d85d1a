using System.Text;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The primitives of a checkpoint body: length-prefixed UTF-8 strings, little-endian numbers, times as (ticks, offset
/// minutes). Reading checks every count against the bytes left before it allocates, so a damaged length cannot make
/// the reader allocate more than the body's size.
/// </summary>
internal sealed class CheckpointWriter(Stream stream) : IDisposable
{
    private readonly BinaryWriter _writer = new(stream, Encoding.UTF8, leaveOpen: true);

    public void Dispose() => _writer.Dispose();

    public void Write(int value) => _writer.Write(value);
    public void Write(long value) => _writer.Write(value);
    public void Write(bool value) => _writer.Write(value);
    public void Write(byte value) => _writer.Write(value);
    public void Write(string value) => _writer.Write(value);

    public void Write(ReadOnlySpan<byte> bytes) => _writer.Write(bytes);

    public void WriteNullable(string? value)
    {
        _writer.Write(value is not null);
        if (value is not null) _writer.Write(value);
    }

    public void Write(DateTimeOffset value)
    {
        _writer.Write(value.Ticks);
        _writer.Write((short)value.Offset.TotalMinutes);
    }

    public void WriteNullable(DateTimeOffset? value)
    {
        _writer.Write(value is not null);
        if (value is { } v) Write(v);
    }

    public void Flush() => _writer.Flush();
}

/// <inheritdoc cref="CheckpointWriter"/>
internal sealed class CheckpointReader(Stream stream) : IDisposable
{
    private readonly BinaryReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);

    public void Dispose() => _reader.Dispose();

    public long Remaining => stream.Length - stream.Position;

    public int ReadInt32() => _reader.ReadInt32();
    public long ReadInt64() => _reader.ReadInt64();
    public bool ReadBoolean() => _reader.ReadBoolean();
    public byte ReadByte() => _reader.ReadByte();
    public byte[] ReadBytes(int count) => _reader.ReadBytes(count);

    /// <summary>Fills <paramref name="buffer"/>; the body ending first is a cut-off body (<see cref="EndOfStreamException"/>).</summary>
    public void ReadExactly(Span<byte> buffer) => stream.ReadExactly(buffer);

    public string ReadString()
    {
        // The 7-bit length comes first; a length past the end is a cut-off body, found before any buffer is sized by it.
        var start = stream.Position;
        var length = _reader.Read7BitEncodedInt();
        if (length < 0) throw new InvalidDataException("negative string length");
        if (length > Remaining) throw new EndOfStreamException();
        stream.Position = start;
        return _reader.ReadString();
    }

    public string? ReadNullableString() => _reader.ReadBoolean() ? ReadString() : null;

    public DateTimeOffset ReadTime()
    {
        var ticks = _reader.ReadInt64();
        var minutes = _reader.ReadInt16();
        // The constructor refuses ticks or offsets out of range (ArgumentOutOfRangeException): a corrupt body.
        return new DateTimeOffset(ticks, TimeSpan.FromMinutes(minutes));
    }

    public DateTimeOffset? ReadNullableTime() => _reader.ReadBoolean() ? ReadTime() : null;

    /// <summary>A count of items that take at least <paramref name="minBytesEach"/> bytes each, checked against the bytes left.</summary>
    public int ReadCount(int minBytesEach = 1)
    {
        var count = _reader.ReadInt32();
        if (count < 0) throw new InvalidDataException("negative count");
        if ((long)count * minBytesEach > Remaining) throw new EndOfStreamException();
        return count;
    }
}
