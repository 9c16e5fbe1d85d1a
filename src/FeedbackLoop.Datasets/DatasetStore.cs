using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using Parquet;

namespace FeedbackLoop.Datasets;

/// <summary>
/// The datasets under <c>&lt;data&gt;/datasets/&lt;app_id&gt;/&lt;kind&gt;/</c>. Each write adds at most one
/// file per (app, kind), written atomically (temporary name, fsync, rename, folder fsync). Rows whose id is
/// already in the dataset are skipped, so replaying events, or re-running after a crash between writing a
/// file and committing offsets, never adds a row twice. File names are derived from their rows' ids, so
/// the same rows always get the same name. Before each write the store reads the ids of files that appeared
/// since it last looked, so extractor instances sharing one data folder see each other's rows: a partition
/// that moves to another instance is re-read from its committed offset without writing a row a second time.
/// </summary>
public sealed class DatasetStore(string dataRoot) : IExtractionSink
{
    private readonly Dictionary<(string AppId, string Kind), DatasetIndex> _indexes = [];

    /// <summary>
    /// How old a <c>.partial</c> temporary must be before the store deletes it as a crash's leftover. Another
    /// instance sharing the folder may be writing a younger one right now; a flush takes seconds, so the default of
    /// one hour only ever removes what a crash left.
    /// </summary>
    public TimeSpan LeftoverAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Parquet.Net with Snappy: Zstd at its default level was ~70× slower when this was chosen (docs/adr/0008-parquet-files.md).</summary>
    internal static ParquetOptions Options { get; } = new()
    {
        CompressionMethod = CompressionMethod.Snappy,
        CompressionLevel = System.IO.Compression.CompressionLevel.Fastest,
    };

    /// <summary>The <c>&lt;data&gt;</c> folder.</summary>
    public string DataRoot { get; } = dataRoot;

    /// <summary>The folder of one dataset.</summary>
    public string FolderOf(string appId, string kind) => DatasetPaths.Folder(DataRoot, appId, kind);

    /// <summary>Writes the rows not already present, one file per (app, kind), and remembers their ids.</summary>
    public async Task<ExtractionWriteResult> WriteAsync(ExtractionOutput output, CancellationToken cancellationToken = default)
    {
        if (output.IsEmpty) return ExtractionWriteResult.Empty;
        var files = new List<string>();
        var skipped = 0;
        var pairs = 0;
        var labels = 0;
        var windows = 0;
        var pairsByApp = new Dictionary<string, int>(StringComparer.Ordinal);

        foreach (var group in output.Pairs.GroupBy(p => p.AppId, StringComparer.Ordinal))
        {
            var (fresh, dup) = await FreshAsync(group.Key, DatasetKinds.PreferencePairs, group, p => p.PairId, cancellationToken).ConfigureAwait(false);
            skipped += dup;
            if (fresh.Count == 0) continue;
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.PreferencePairs, (stream, ct) => DatasetColumns.WritePairsAsync(stream, fresh, ct), fresh.Select(p => p.PairId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.PreferencePairs, files[^1], fresh.Select(p => p.PairId));
            pairs += fresh.Count;
            pairsByApp[group.Key] = fresh.Count;
        }
        foreach (var group in output.Labels.GroupBy(l => l.AppId, StringComparer.Ordinal))
        {
            var (fresh, dup) = await FreshAsync(group.Key, DatasetKinds.FeedbackLabels, group, l => l.LabelId, cancellationToken).ConfigureAwait(false);
            skipped += dup;
            if (fresh.Count == 0) continue;
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.FeedbackLabels, (stream, ct) => DatasetColumns.WriteLabelsAsync(stream, fresh, ct), fresh.Select(l => l.LabelId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.FeedbackLabels, files[^1], fresh.Select(l => l.LabelId));
            labels += fresh.Count;
        }
        foreach (var group in output.Windows.GroupBy(w => w.AppId, StringComparer.Ordinal))
        {
            var (fresh, dup) = await FreshAsync(group.Key, DatasetKinds.Engagement, group, w => w.WindowId, cancellationToken).ConfigureAwait(false);
            skipped += dup;
            if (fresh.Count == 0) continue;
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.Engagement, (stream, ct) => DatasetColumns.WriteWindowsAsync(stream, fresh, ct), fresh.Select(w => w.WindowId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.Engagement, files[^1], fresh.Select(w => w.WindowId));
            windows += fresh.Count;
        }
        return new ExtractionWriteResult(pairs, labels, windows, skipped, files) { PairsByApp = pairsByApp };
    }

    private async Task<(List<T> Fresh, int Duplicates)> FreshAsync<T>(
        string appId, string kind, IEnumerable<T> rows, Func<T, string> idOf, CancellationToken cancellationToken)
    {
        var committed = await IndexAsync(appId, kind, cancellationToken).ConfigureAwait(false);
        var inBatch = new HashSet<string>(StringComparer.Ordinal);
        var fresh = new List<T>();
        var duplicates = 0;
        foreach (var row in rows)
        {
            var id = idOf(row);
            if (committed.Contains(id) || !inBatch.Add(id)) duplicates++;
            else fresh.Add(row);
        }
        return (fresh, duplicates);
    }

    private void Remember(string appId, string kind, string file, IEnumerable<string> ids)
    {
        var index = _indexes[(appId, kind)];
        index.Files.Add(Path.GetFileName(file));
        index.AddRange(ids);
    }

    /// <summary>
    /// The ids in a dataset now: on first use every file's id column (old crash leftovers are deleted then), later
    /// only the files that appeared since, i.e. those another instance wrote. A file never changes once it has its
    /// final name, so a name already read needs no second look.
    /// </summary>
    private async Task<DatasetIndex> IndexAsync(string appId, string kind, CancellationToken cancellationToken)
    {
        var folder = FolderOf(appId, kind);
        if (!_indexes.TryGetValue((appId, kind), out var index))
        {
            DurableFile.RemoveLeftovers(folder, LeftoverAge);
            _indexes[(appId, kind)] = index = new DatasetIndex();
        }
        // Which files are new, not their order: the ids go into a set.
        foreach (var file in DatasetPaths.FilesNotIn(folder, index.Files))
        {
            index.AddRange(await DatasetReader.ReadIdColumnAsync(file, DatasetPaths.IdColumn(kind), cancellationToken).ConfigureAwait(false));
            index.Files.Add(Path.GetFileName(file));
        }
        return index;
    }

    /// <summary>
    /// The ids of one dataset and the file names they were read from. The store keeps every id it has seen for as long as
    /// it runs, so their form matters: a row id is 128 bits of SHA-256 written as 32 lowercase hex digits (StableId), and
    /// it is kept as two 64-bit numbers. Measured with a million ids (.NET 10): 39 bytes an id in the set instead of 116
    /// for the string and its entry, and no object per id for the GC to trace. An id of any other form (a file written by
    /// hand) is kept as it is, so equality stays the ids' own, character for character.
    /// </summary>
    private sealed class DatasetIndex
    {
        private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");
        private readonly HashSet<PackedId> _stableIds = [];
        private readonly HashSet<string> _otherIds = new(StringComparer.Ordinal);

        public HashSet<string> Files { get; } = new(StringComparer.Ordinal);

        public bool Contains(string id) => Pack(id) is { } packed ? _stableIds.Contains(packed) : _otherIds.Contains(id);

        public void AddRange(IEnumerable<string> ids)
        {
            foreach (var id in ids)
            {
                if (Pack(id) is { } packed) _stableIds.Add(packed);
                else _otherIds.Add(id);
            }
        }

        private static PackedId? Pack(string id) =>
            id.Length == 32 && !id.AsSpan().ContainsAnyExcept(LowerHex)
                ? new PackedId(Half(id.AsSpan(0, 16)), Half(id.AsSpan(16)))
                : null;

        private static ulong Half(ReadOnlySpan<char> hex) => ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

        /// <summary>A stable id's 128 bits (two halves: a UInt128 is aligned to 16 bytes, which makes each set entry 32).</summary>
        private readonly record struct PackedId(ulong High, ulong Low);
    }

    private async Task<string> WriteFileAsync(string appId, string kind, Func<Stream, CancellationToken, Task> write, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var folder = FolderOf(appId, kind);
        DurableFile.CreatePrivateDirectory(folder);
        var path = Path.Combine(folder, FileName(ids));
        await DurableFile.WriteBufferedAsync(path, stream => write(stream, cancellationToken), cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <summary>Content-addressed: the same rows give the same name, so a rewrite replaces rather than adds.</summary>
    private static string FileName(IEnumerable<string> ids)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var id in ids)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(id));
            hash.AppendData("\n"u8);
        }
        return "part-" + Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 10)) + DatasetPaths.Extension;
    }
}
