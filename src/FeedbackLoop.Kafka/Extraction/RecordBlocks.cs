using System.Buffers;
using Confluent.Kafka;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The extraction consumer's key and value deserializer: copies each record's bytes into shared pooled blocks instead of
/// an array per key and per value, as the client's byte-array deserializer does. Those two arrays were about a sixth of
/// what the extractor allocated per event (docs/BENCHMARKS.md, "Record bytes in pooled blocks"), all of it garbage once
/// the record was parsed. A null key or value stays null, so a dead letter carries exactly what was read.
/// </summary>
/// <remarks>
/// Called only on the loop's thread, inside <see cref="IConsumer{TKey,TValue}.Consume(TimeSpan)"/>. <see cref="Seal"/>
/// hands the blocks written so far to whoever holds the records read meanwhile (a read-ahead batch), and later records go
/// to new blocks; the holder gives them back with <see cref="Return"/> once no record of it is read any more. Blocks that
/// are never given back (a batch dropped at a rebalance or a stop) are simply collected.
/// </remarks>
internal sealed class RecordBlocks : IDeserializer<ReadOnlyMemory<byte>?>
{
    /// <summary>One block: a read-ahead batch of 512 records of a few hundred bytes fills three or four.</summary>
    internal const int BlockSize = 64 * 1024;
    // Larger records get an array of their own, so one of them never leaves most of a block unused.
    internal const int LargestInBlock = BlockSize / 4;

    // The blocks written since the last Seal: the next holder's.
    private List<byte[]> _unsealed = [];
    private byte[]? _block;
    private int _used;

    /// <inheritdoc />
    public ReadOnlyMemory<byte>? Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (isNull) return null;
        if (data.IsEmpty) return ReadOnlyMemory<byte>.Empty;
        if (data.Length > LargestInBlock) return data.ToArray();
        if (_block is null || _block.Length - _used < data.Length)
        {
            _block = ArrayPool<byte>.Shared.Rent(BlockSize);
            _unsealed.Add(_block);
            _used = 0;
        }
        data.CopyTo(_block.AsSpan(_used));
        var bytes = new ReadOnlyMemory<byte>(_block, _used, data.Length);
        _used += data.Length;
        return bytes;
    }

    /// <summary>The blocks that hold the records deserialized since the last call (null if none); later records go to new blocks.</summary>
    public List<byte[]>? Seal()
    {
        if (_unsealed.Count == 0) return null;
        var blocks = _unsealed;
        _unsealed = [];
        _block = null;
        return blocks;
    }

    /// <summary>Gives sealed blocks back to the pool: only once no record in them is read any more.</summary>
    public static void Return(List<byte[]>? blocks)
    {
        if (blocks is null) return;
        foreach (var block in blocks) ArrayPool<byte>.Shared.Return(block);
        blocks.Clear();
    }
}
