using System.Globalization;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// Per partition, the offset below which every record was fully handled (rows durable, dead letters
/// delivered). The committed Kafka offset can be lower (it waits for open sessions, which are rebuilt
/// by re-reading); records between the two are a replay, and a replay must not dead-letter a record
/// a second time. One small file per partition, written atomically, so instances owning different
/// partitions never write the same file.
/// </summary>
internal sealed class ProgressMarks(string directory)
{
    private readonly Dictionary<int, long> _cache = [];

    public long Get(int partition)
    {
        if (_cache.TryGetValue(partition, out var cached)) return cached;
        var path = PathOf(partition);
        var value = File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
        _cache[partition] = value;
        return value;
    }

    public void Set(int partition, long offset)
    {
        if (_cache.TryGetValue(partition, out var current) && current >= offset) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = PathOf(partition);
        var temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(offset.ToString(CultureInfo.InvariantCulture));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        _cache[partition] = offset;
    }

    /// <summary>Forget cached values of partitions this instance no longer owns (another may advance them).</summary>
    public void Forget(int partition) => _cache.Remove(partition);

    private string PathOf(int partition) => Path.Combine(directory, "partition-" + partition.ToString(CultureInfo.InvariantCulture) + ".done");
}
