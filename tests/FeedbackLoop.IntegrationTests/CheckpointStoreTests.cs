using System.Text;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The checkpoint files of ADR 0014 on a real disk: a checkpoint is used only for the committed offset it was written for,
/// in the log it came from, whole; anything else is discarded with its reason, and the offset to re-read from is given
/// whenever the file's header is sound.
/// </summary>
public sealed class CheckpointStoreTests
{
    private static readonly LogOrigin Origin = new("cluster-a", "topic-1");
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("the state of partition 2, as the extractor wrote it");
    private const int Partition = 2;
    private const long Offset = 500;
    private const long RebuildFrom = 120;

    public static TheoryData<string, string?, long?> Cases() => new()
    {
        { "as written", null, RebuildFrom },
        { "no file for the committed offset", CheckpointReasons.Missing, null },
        { "written for an earlier offset only", CheckpointReasons.Missing, null },
        { "body cut off", CheckpointReasons.Truncated, RebuildFrom },
        { "body with a flipped byte", CheckpointReasons.Corrupt, RebuildFrom },
        { "body with bytes appended", CheckpointReasons.Corrupt, RebuildFrom },
        { "header cut off", CheckpointReasons.Corrupt, null },
        { "empty file", CheckpointReasons.Corrupt, null },
        { "another cluster", CheckpointReasons.Foreign, null },
        { "the topic created again", CheckpointReasons.Foreign, null },
        { "another file version", CheckpointReasons.Version, null },
        { "cluster id unknown", CheckpointReasons.OriginUnknown, RebuildFrom },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_checkpoint_is_used_only_whole_for_its_offset_and_log(string @case, string? reason, long? rebuildFrom)
    {
        using var root = new TempFolder("checkpoint-store");
        var store = new CheckpointStore(root.Combine("checkpoints"));
        var writtenFor = @case switch
        {
            "another cluster" => Origin with { ClusterId = "cluster-b" },
            "the topic created again" => Origin with { TopicId = "topic-2" },
            _ => Origin,
        };
        store.WriteAll(writtenFor, [(Partition, @case == "written for an earlier offset only" ? Offset - 10 : Offset, RebuildFrom, Body)]);
        var path = root.Combine("checkpoints", $"partition-{Partition}-{Offset}.checkpoint");
        if (@case == "no file for the committed offset") File.Delete(path);
        if (File.Exists(path))
        {
            var bytes = File.ReadAllBytes(path);
            var header = Array.IndexOf(bytes, (byte)'\n') + 1;
            bytes = @case switch
            {
                "body cut off" => bytes[..^5],
                "body with a flipped byte" => Flip(bytes, header + 3),
                "body with bytes appended" => [.. bytes, 1, 2],
                "header cut off" => bytes[..(header / 2)],
                "empty file" => [],
                "another file version" => Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(bytes).Replace("flcp 1 ", "flcp 2 ", StringComparison.Ordinal)),
                _ => bytes,
            };
            File.WriteAllBytes(path, bytes);
        }

        var found = store.Find(@case == "cluster id unknown" ? null : Origin, Partition, Offset);

        Assert.Equal((reason, rebuildFrom), (found.Reason, found.RebuildFrom));
        if (reason is null) Assert.Equal(Body, found.Body.ToArray());
        else Assert.True(found.Body.IsEmpty);
    }

    [Fact]
    public void After_a_commit_only_the_committed_checkpoint_of_the_partition_is_kept()
    {
        using var root = new TempFolder("checkpoint-store");
        var store = new CheckpointStore(root.Combine("checkpoints"));
        store.WriteAll(Origin, [(Partition, 100, 10, Body)]);
        store.WriteAll(Origin, [(Partition, 200, 10, Body)]);
        store.WriteAll(Origin, [(12, 300, 10, Body)]);
        File.WriteAllBytes(root.Combine("checkpoints", $"partition-{Partition}-400.checkpoint.partial"), Body);

        store.Prune(Partition, keep: 200);

        Assert.Equal(["partition-12-300.checkpoint", $"partition-{Partition}-200.checkpoint"],
            Directory.EnumerateFiles(root.Combine("checkpoints")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        store.Prune(Partition, keep: null);
        Assert.Equal(["partition-12-300.checkpoint"], Directory.EnumerateFiles(root.Combine("checkpoints")).Select(Path.GetFileName));
    }

    [Fact]
    public void Checkpoints_written_together_are_each_whole_and_leave_no_temporary()
    {
        using var root = new TempFolder("checkpoint-store");
        var store = new CheckpointStore(root.Combine("checkpoints"));
        var bodies = Enumerable.Range(0, 24).Select(p => Encoding.UTF8.GetBytes($"state of partition {p}: " + new string('x', 1_000 * p))).ToArray();

        store.WriteAll(Origin, bodies.Select((body, p) => (p, 1_000L + p, 10L, (ReadOnlyMemory<byte>)body)));

        for (var p = 0; p < bodies.Length; p++)
        {
            var found = store.Find(Origin, p, 1_000 + p);
            Assert.Null(found.Reason);
            Assert.Equal(bodies[p], found.Body.ToArray());
        }
        Assert.DoesNotContain(Directory.EnumerateFiles(root.Combine("checkpoints")), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0xFF;
        return copy;
    }
}
