using System.Security.Cryptography;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The window in a checkpoint (docs/adr/0014-partition-checkpoints.md, point 3, "The de-duplication window"). A small window is
/// written whole into each body. From <see cref="InlineBelow"/> ids on, most of it lives in a base: a file of every id the
/// window held when the base was taken, named by its SHA-256, written once beside the checkpoint that first refers to it.
/// Each body then holds the base's name, how many of its oldest ids were forgotten since, and the ids added after it. A new
/// base is taken once a quarter of the window arrived after the old one.
/// </summary>
/// <remarks>
/// A running extractor's windows are full (200,000 ids a partition by default) and every checkpoint of a moved partition
/// wrote all of them: 3.4 MB a partition even as UUIDs' bytes, on the loop's thread, while reading waits. With a base, a
/// body holds what arrived since the base (at most a quarter of the window), and the whole window is written once per
/// quarter of it read (docs/BENCHMARKS.md, "Checkpoints keep UUID ids as their 16 bytes, and write what arrived since a base of the window").
/// </remarks>
internal sealed partial class DeduplicationWindow
{
    /// <summary>
    /// Windows with fewer ids (under 280 KB of UUIDs) are written whole into each body: a base is one more file, and fsync,
    /// for a partition's next checkpoint, which young or quiet partitions would pay without writing much less.
    /// </summary>
    public const int InlineBelow = 16_384;

    private const byte UuidTag = 1;
    private const byte TextTag = 2;
    private const byte Inline = 0;
    private const byte OnBase = 1;

    // The base the last body referred to (null: none, that body held every id), the ids added since it was taken, and
    // what they were before the last body was written, for when that body is not written after all (Abandon).
    private WindowBase? _base;
    private int _sinceBase;
    private (WindowBase? Base, int SinceBase) _beforeLastBody;
    private WindowBaseFile? _newBase;

    /// <summary>The base the last body written refers to; null when that body held the whole window.</summary>
    public string? BaseHash => _base?.Hash;

    /// <summary>
    /// The window's part of a checkpoint body: every id (a small window), or a base's name, how many of its oldest ids are
    /// forgotten, and the ids added since. When a new base was taken for it, <see cref="TakeNewBase"/> hands it out; the
    /// caller writes it before the body counts.
    /// </summary>
    public void WriteSection(CheckpointWriter writer)
    {
        _beforeLastBody = (_base, _sinceBase);
        _newBase = null;
        if (Count < InlineBelow)
        {
            _base = null;
            writer.Write(Inline);
            writer.Write(Count);
            WriteIds(writer, skip: 0);
            return;
        }
        // A new base when there is none, when a quarter of the window came after it, or when fewer ids are left than came
        // after it (the window was restored under a smaller capacity).
        if (_base is null || _sinceBase >= Math.Max(1, capacity / 4) || _sinceBase > Count)
        {
            using var buffer = new MemoryStream(Count * 17 + 4);
            using (var baseWriter = new CheckpointWriter(buffer))
            {
                baseWriter.Write(Count);
                WriteIds(baseWriter, skip: 0);
            }
            var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes.Span));
            _base = new WindowBase(hash, Count);
            _sinceBase = 0;
            _newBase = new WindowBaseFile(hash, bytes);
        }
        writer.Write(OnBase);
        writer.Write(_base.Hash);
        writer.Write(_base.Count);
        writer.Write(_base.Count - (Count - _sinceBase));
        writer.Write(_sinceBase);
        WriteIds(writer, skip: Count - _sinceBase);
    }

    /// <summary>The base taken for the last body, once (null: that body refers to an older base, or to none).</summary>
    public WindowBaseFile? TakeNewBase()
    {
        var taken = _newBase;
        _newBase = null;
        return taken;
    }

    /// <summary>The last body will not be written (too large): the next one refers to what the one before it did.</summary>
    public void Abandon()
    {
        (_base, _sinceBase) = _beforeLastBody;
        _newBase = null;
    }

    /// <summary>
    /// Reads a section <see cref="WriteSection"/> wrote into this (empty) window. False when the section refers to a base
    /// that <paramref name="bases"/> does not have; a base whose bytes do not match its name, or ids that do not add up, are
    /// a damaged body (<see cref="InvalidDataException"/>).
    /// </summary>
    public bool ReadSection(CheckpointReader reader, Func<string, byte[]?>? bases)
    {
        switch (reader.ReadByte())
        {
            case Inline:
                ReadIds(reader, reader.ReadCount(minBytesEach: 2));
                (_base, _sinceBase) = (null, 0);
                return true;
            case OnBase:
                var hash = reader.ReadString();
                var baseCount = reader.ReadInt32();
                var forgotten = reader.ReadInt32();
                var added = reader.ReadCount(minBytesEach: 2);
                if (baseCount < 0 || forgotten < 0 || forgotten > baseCount) throw new InvalidDataException("window base counts");
                if (bases?.Invoke(hash) is not { } bytes) return false;
                if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != hash) throw new InvalidDataException("window base hash");
                using (var stream = new MemoryStream(bytes, writable: false))
                using (var baseReader = new CheckpointReader(stream))
                {
                    if (baseReader.ReadCount(minBytesEach: 2) != baseCount) throw new InvalidDataException("window base count");
                    ReadIds(baseReader, baseCount, skip: forgotten);
                    if (baseReader.Remaining != 0) throw new InvalidDataException("window base length");
                }
                ReadIds(reader, added);
                // A window never holds an id twice, so a body whose ids repeat, or do not add up, was not written by one.
                if (Count != Math.Min(capacity, baseCount - forgotten + added)) throw new InvalidDataException("window ids");
                (_base, _sinceBase) = (new WindowBase(hash, baseCount), added);
                return true;
            default:
                throw new InvalidDataException("window section");
        }
    }

    /// <summary>
    /// Reads <paramref name="count"/> ids as <see cref="WriteIds"/> writes them, each a tag byte, then a packed UUID's 16 bytes
    /// or a text id's string, and adds all but the first <paramref name="skip"/>. Before format 2 every id was text, a UUID formatted back to its 36 characters: 37 bytes an id
    /// instead of 17, and a format and a parse per id (docs/BENCHMARKS.md, "Checkpoints keep UUID ids as their 16 bytes, and write what arrived since a base of the window").
    /// </summary>
    public void ReadIds(CheckpointReader reader, int count, int skip = 0)
    {
        // Sized once for what the window will hold, rather than grown by doubling through a full window's 200,000 ids.
        _uuids.EnsureCapacity(Math.Min(_uuids.Count + count - skip, capacity));
        _order.EnsureCapacity(Math.Min(_order.Count + count - skip, capacity) + 1);
        Span<byte> uuid = stackalloc byte[16];
        for (var i = 0; i < count; i++)
        {
            switch (reader.ReadByte())
            {
                case UuidTag:
                    reader.ReadExactly(uuid);
                    if (i >= skip) AddPacked(new Guid(uuid));
                    break;
                case TextTag:
                    // Through Add, so a text that is a UUID's spelling is packed as it would have been when it arrived.
                    var text = reader.ReadString();
                    if (i >= skip) Add(text);
                    break;
                default:
                    throw new InvalidDataException("unknown id tag");
            }
        }
    }

    /// <summary>The remembered ids after the oldest <paramref name="skip"/>, oldest first, as <see cref="ReadIds"/> reads them.</summary>
    public void WriteIds(CheckpointWriter writer, int skip)
    {
        Span<byte> uuid = stackalloc byte[16];
        using var texts = _textOrder.GetEnumerator();
        var index = 0;
        foreach (var arrival in _order)
        {
            var write = index++ >= skip;
            if (arrival.IsText)
            {
                texts.MoveNext();
                if (!write) continue;
                writer.Write(TextTag);
                writer.Write(texts.Current);
                continue;
            }
            if (!write) continue;
            arrival.Uuid.TryWriteBytes(uuid);
            writer.Write(UuidTag);
            writer.Write((ReadOnlySpan<byte>)uuid);
        }
    }

    private sealed record WindowBase(string Hash, int Count);
}

/// <summary>A base of a de-duplication window to write beside the checkpoint that first refers to it: its name (SHA-256) and bytes.</summary>
public sealed record WindowBaseFile(string Hash, ReadOnlyMemory<byte> Bytes);
