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
        store.WriteAll(writtenFor, [(Partition, @case == "written for an earlier offset only" ? Offset - 10 : Offset, RebuildFrom, Body, null)]);
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
        store.WriteAll(Origin, [(Partition, 100, 10, Body, null)]);
        store.WriteAll(Origin, [(Partition, 200, 10, Body, null)]);
        store.WriteAll(Origin, [(12, 300, 10, Body, null)]);
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

        store.WriteAll(Origin, bodies.Select((body, p) => (p, 1_000L + p, 10L, (ReadOnlyMemory<byte>)body, (WindowBaseFile?)null)));

        for (var p = 0; p < bodies.Length; p++)
        {
            var found = store.Find(Origin, p, 1_000 + p);
            Assert.Null(found.Reason);
            Assert.Equal(bodies[p], found.Body.ToArray());
        }
        Assert.DoesNotContain(Directory.EnumerateFiles(root.Combine("checkpoints")), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public void A_window_base_is_written_with_the_checkpoint_that_first_refers_to_it_and_kept_while_the_committed_one_does()
    {
        using var root = new TempFolder("checkpoint-store");
        var store = new CheckpointStore(root.Combine("checkpoints"));
        var first = Base("the ids of the window at offset 100");
        var second = Base("the ids of the window at offset 300");

        store.WriteAll(Origin, [(Partition, 100, 10, Body, first)]);
        store.WriteAll(Origin, [(Partition, 200, 10, Body, null)]); // refers to the first base
        Assert.Equal(first.Bytes.ToArray(), store.ReadWindowBase(Partition, first.Hash));
        Assert.Null(store.ReadWindowBase(Partition, second.Hash));
        Assert.Null(store.ReadWindowBase(12, first.Hash)); // another partition's bases are its own

        store.Prune(Partition, keep: 200, keepBase: first.Hash);
        Assert.Equal([$"partition-{Partition}-200.checkpoint", $"partition-{Partition}-window-{first.Hash}.ids"], FileNames(root));

        store.WriteAll(Origin, [(Partition, 300, 10, Body, second)]);
        store.Prune(Partition, keep: 300, keepBase: second.Hash);
        Assert.Equal([$"partition-{Partition}-300.checkpoint", $"partition-{Partition}-window-{second.Hash}.ids"], FileNames(root));
        Assert.Null(store.ReadWindowBase(Partition, first.Hash));

        store.Prune(Partition, keep: null, keepBase: second.Hash); // no checkpoint kept: no base either
        Assert.Empty(FileNames(root));
    }

    [Theory]
    [InlineData("../partition-2-100.checkpoint")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("")]
    public void A_base_name_that_is_not_a_hash_is_never_looked_up(string name)
    {
        using var root = new TempFolder("checkpoint-store");
        var store = new CheckpointStore(root.Combine("checkpoints"));
        store.WriteAll(Origin, [(Partition, 100, 10, Body, Base("ids"))]);

        Assert.Null(store.ReadWindowBase(Partition, name));
    }

    private static WindowBaseFile Base(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new WindowBaseFile(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes);
    }

    private static IEnumerable<string?> FileNames(TempFolder root) =>
        Directory.EnumerateFiles(root.Combine("checkpoints")).Select(Path.GetFileName).Order(StringComparer.Ordinal);

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0xFF;
        return copy;
    }
}
