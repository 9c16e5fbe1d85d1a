using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// Partition checkpoints as files in the data folder (ADR 0014): <c>partition-&lt;p&gt;-&lt;offset&gt;.checkpoint</c>, one per
/// committed offset, written to a temporary name, fsynced and renamed (and the folder fsynced) before the offset is committed, and the older
/// ones of the partition deleted only after the commit, so the checkpoint of the committed offset exists whenever the
/// process dies. Each file starts with one line of text that the body's damage cannot hide:
/// <c>flcp 1 &lt;cluster id&gt; &lt;topic id&gt; &lt;partition&gt; &lt;offset&gt; &lt;rebuild from&gt; &lt;body bytes&gt; &lt;sha-256&gt;</c>, where
/// <c>rebuild from</c> is the oldest offset any open session or window of the state needs: the offset to re-read from
/// when the body cannot be used. Beside them lie the bases of the partitions' de-duplication windows that bodies refer to
/// (<see cref="WriteAll"/>), each kept while the partition's committed checkpoint refers to it.
/// </summary>
internal sealed class CheckpointStore(string directory)
{
    private const string Magic = "flcp";
    private const string Version = "1";
    // A header is a few ids and numbers; a longer first line is not one of ours.
    private const int MaxHeaderBytes = 1_024;

    /// <summary>
    /// Writes partitions' checkpoints durably, together (<see cref="StateFiles.ReplaceAll"/>); each counts only once the group
    /// commits its offset.
    /// </summary>
    /// <remarks>
    /// A checkpoint whose body refers to a new base of its de-duplication window (<paramref name="checkpoints"/>'
    /// <c>NewBase</c>) gets the base's file in the same write: <c>partition-&lt;p&gt;-window-&lt;sha-256&gt;.ids</c>, the base's
    /// bytes as the extractor made them. Its name is its hash, so the restore checks the bytes against it.
    /// </remarks>
    public void WriteAll(LogOrigin origin, IEnumerable<(int Partition, long Offset, long RebuildFrom, ReadOnlyMemory<byte> Body, WindowBaseFile? NewBase)> checkpoints)
    {
        var files = new List<StateFile>();
        foreach (var (partition, offset, rebuildFrom, body, newBase) in checkpoints)
        {
            var header = string.Create(CultureInfo.InvariantCulture,
                $"{Magic} {Version} {origin.ClusterId} {origin.TopicId} {partition} {offset} {rebuildFrom} {body.Length} {Convert.ToHexStringLower(SHA256.HashData(body.Span))}\n");
            files.Add(new StateFile(PathOf(partition, offset), Encoding.ASCII.GetBytes(header), body));
            if (newBase is not null) files.Add(new StateFile(PathOfBase(partition, newBase.Hash), [], newBase.Bytes));
        }
        StateFiles.ReplaceAll(directory, files);
    }

    /// <summary>
    /// The bytes of the de-duplication window base <paramref name="hash"/> of <paramref name="partition"/>, for a restore;
    /// null when there is no such file or it cannot be read (the restore then refuses the checkpoint).
    /// </summary>
    public byte[]? ReadWindowBase(int partition, string hash)
    {
        // The name comes from a body whose hash checked out; a name that is not a hash is not looked up at all.
        if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower)) return null;
        try
        {
            return File.ReadAllBytes(PathOfBase(partition, hash));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The checkpoint of <paramref name="partition"/> for the committed offset <paramref name="committed"/>, checked against the
    /// log it must come from (null origin: unknown, nothing is trusted).
    /// </summary>
    public CheckpointLookup Find(LogOrigin? origin, int partition, long committed)
    {
        var path = PathOf(partition, committed);
        if (!File.Exists(path)) return CheckpointLookup.Missing;
        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return CheckpointLookup.Discard(CheckpointReasons.Truncated, null);
        }
        var end = Array.IndexOf(content, (byte)'\n', 0, Math.Min(content.Length, MaxHeaderBytes));
        if (end < 0) return CheckpointLookup.Discard(CheckpointReasons.Corrupt, null);
        var fields = Encoding.ASCII.GetString(content, 0, end).Split(' ');
        if (fields is not [Magic, var version, var cluster, var topic, var p, var o, var r, var length, var hash]) return CheckpointLookup.Discard(CheckpointReasons.Corrupt, null);
        if (version != Version) return CheckpointLookup.Discard(CheckpointReasons.Version, null);
        if (origin is not null && (cluster != origin.ClusterId || topic != origin.TopicId)) return CheckpointLookup.Discard(CheckpointReasons.Foreign, null);
        if (!long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var filePartition) || filePartition != partition
            || !long.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out var offset) || offset != committed
            || !long.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var rebuildFrom) || rebuildFrom > committed
            || !long.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out var bodyLength))
        {
            return CheckpointLookup.Discard(CheckpointReasons.Corrupt, null);
        }
        // From here the header is sound, so a body that cannot be used still says where to re-read from. Without an origin
        // the header cannot be checked, but it names this partition and committed offset, and re-reading from an earlier
        // offset than needed costs time, never rows: another instance of the group may have committed with it.
        if (origin is null) return CheckpointLookup.Discard(CheckpointReasons.OriginUnknown, rebuildFrom);
        var body = content.AsMemory(end + 1);
        if (body.Length < bodyLength) return CheckpointLookup.Discard(CheckpointReasons.Truncated, rebuildFrom);
        if (body.Length > bodyLength || Convert.ToHexStringLower(SHA256.HashData(body.Span)) != hash) return CheckpointLookup.Discard(CheckpointReasons.Corrupt, rebuildFrom);
        return new CheckpointLookup(body, null, rebuildFrom);
    }

    /// <summary>
    /// Deletes the partition's checkpoints other than the one of <paramref name="keep"/> (null: all of them), and its window
    /// bases other than <paramref name="keepBase"/>, the one the kept checkpoint refers to.
    /// </summary>
    public void Prune(int partition, long? keep, string? keepBase = null)
    {
        if (!Directory.Exists(directory)) return;
        var prefix = "partition-" + partition.ToString(CultureInfo.InvariantCulture) + "-";
        var kept = keep is { } offset ? Path.GetFileName(PathOf(partition, offset)) : null;
        var keptBase = keep is not null && keepBase is not null ? Path.GetFileName(PathOfBase(partition, keepBase)) : null;
        foreach (var file in Directory.EnumerateFiles(directory, prefix + "*"))
        {
            var name = Path.GetFileName(file);
            if (name == kept || name == keptBase) continue;
            File.Delete(file);
        }
    }

    private string PathOf(int partition, long offset) =>
        Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"partition-{partition}-{offset}.checkpoint"));

    private string PathOfBase(int partition, string hash) =>
        Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"partition-{partition}-window-{hash}.ids"));
}

/// <summary>
/// What the store found for a committed offset: a body to restore, or why none can be used and, when its header was sound,
/// the offset to re-read from instead. <see cref="Missing"/>: no file (the group committed it without a checkpoint).
/// </summary>
internal sealed record CheckpointLookup(ReadOnlyMemory<byte> Body, string? Reason, long? RebuildFrom)
{
    public static CheckpointLookup Missing { get; } = new(ReadOnlyMemory<byte>.Empty, CheckpointReasons.Missing, null);

    public static CheckpointLookup Discard(string reason, long? rebuildFrom) => new(ReadOnlyMemory<byte>.Empty, reason, rebuildFrom);
}
