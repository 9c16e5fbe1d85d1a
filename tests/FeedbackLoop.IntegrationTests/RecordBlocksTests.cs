using Confluent.Kafka;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The extraction consumer's deserializer (<see cref="RecordBlocks"/>): every record reads back exactly as it was, across
/// block edges and for records too large for a block, null stays distinct from empty, and sealing hands the blocks
/// written so far to one holder while later records go to new blocks.
/// </summary>
public sealed class RecordBlocksTests
{
    private static readonly SerializationContext Context = new(MessageComponentType.Value, "t");

    [Fact]
    public void Records_read_back_byte_for_byte_across_block_edges_and_beside_large_ones()
    {
        var blocks = new RecordBlocks();
        var random = new Random(7);
        // Sizes around the block's edge and the large-record bound, so records land at a block's end, open a new block,
        // or take an array of their own.
        int[] sizes = [1, 300, RecordBlocks.LargestInBlock, RecordBlocks.LargestInBlock + 1, 5_000, 17, RecordBlocks.BlockSize / 3, 2, 40_000, 999];
        var written = new List<(byte[] Expected, ReadOnlyMemory<byte> Read)>();
        for (var i = 0; i < 400; i++)
        {
            var bytes = new byte[sizes[i % sizes.Length]];
            random.NextBytes(bytes);
            written.Add((bytes, blocks.Deserialize(bytes, isNull: false, Context)!.Value));
        }

        foreach (var (expected, read) in written) Assert.Equal(expected, read.ToArray());
        Assert.Null(blocks.Deserialize([], isNull: true, Context));
        var empty = blocks.Deserialize([], isNull: false, Context);
        Assert.True(empty is { Length: 0 });
    }

    [Fact]
    public void Sealed_blocks_belong_to_their_holder_and_later_records_go_to_new_blocks()
    {
        var blocks = new RecordBlocks();
        var first = blocks.Deserialize([1, 2, 3], isNull: false, Context)!.Value;
        var sealedFirst = blocks.Seal();
        Assert.NotNull(sealedFirst);
        Assert.Single(sealedFirst);

        var second = blocks.Deserialize([4, 5, 6], isNull: false, Context)!.Value;
        var sealedSecond = blocks.Seal();
        Assert.NotNull(sealedSecond);
        Assert.NotSame(sealedFirst[0], sealedSecond[0]);

        Assert.Equal([4, 5, 6], second.ToArray());

        // Giving the second holder's blocks back, then writing a record into whatever block the pool hands out next, leaves
        // the first holder's record as it was: had its block been given back too, the new record could overwrite it.
        RecordBlocks.Return(sealedSecond);
        Assert.Empty(sealedSecond);
        var third = blocks.Deserialize([9, 9, 9], isNull: false, Context)!.Value;
        Assert.Equal([1, 2, 3], first.ToArray());
        Assert.Equal([9, 9, 9], third.ToArray());
        RecordBlocks.Return(blocks.Seal());

        // A record too large for a block is never in one: nothing to seal.
        _ = blocks.Deserialize(new byte[RecordBlocks.LargestInBlock + 1], isNull: false, Context);
        Assert.Null(blocks.Seal());
        RecordBlocks.Return(sealedFirst);
    }
}
