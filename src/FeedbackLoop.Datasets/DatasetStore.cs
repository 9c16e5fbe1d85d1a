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
        var planned = new List<PlannedFile>();
        var skipped = 0;
        foreach (var (appId, rows) in ByApp(output.Pairs, p => p.AppId))
            skipped += await PlanAsync(planned, appId, DatasetKinds.PreferencePairs, rows, p => p.PairId, DatasetColumns.WritePairsAsync, cancellationToken).ConfigureAwait(false);
        foreach (var (appId, rows) in ByApp(output.Labels, l => l.AppId))
            skipped += await PlanAsync(planned, appId, DatasetKinds.FeedbackLabels, rows, l => l.LabelId, DatasetColumns.WriteLabelsAsync, cancellationToken).ConfigureAwait(false);
        foreach (var (appId, rows) in ByApp(output.Windows, w => w.AppId))
            skipped += await PlanAsync(planned, appId, DatasetKinds.Engagement, rows, w => w.WindowId, DatasetColumns.WriteWindowsAsync, cancellationToken).ConfigureAwait(false);

        var files = new List<string>();
        foreach (var file in planned)
        {
            files.Add(await WriteFileAsync(file, cancellationToken).ConfigureAwait(false));
            // Durable now: a later write skips these rows, even when a file after this one fails.
            file.Ids.Commit(Path.GetFileName(files[^1]));
        }

        int RowsOf(string kind) => planned.Where(f => f.Kind == kind).Sum(f => f.Ids.Count);
        var pairsByApp = planned.Where(f => f.Kind == DatasetKinds.PreferencePairs).ToDictionary(f => f.AppId, f => f.Ids.Count, StringComparer.Ordinal);
        return new ExtractionWriteResult(RowsOf(DatasetKinds.PreferencePairs), RowsOf(DatasetKinds.FeedbackLabels), RowsOf(DatasetKinds.Engagement), skipped, files)
        {
            PairsByApp = pairsByApp,
        };
    }

    /// <summary>One file a write will add: its dataset, its new rows' ids (one per row), and how to write its rows.</summary>
    private sealed record PlannedFile(string AppId, string Kind, RowIds Ids, Func<Stream, CancellationToken, Task> Write);

    /// <summary>Adds the file of <paramref name="rows"/>' new rows to <paramref name="planned"/>, if any is new; returns how many were not.</summary>
    private async Task<int> PlanAsync<T>(List<PlannedFile> planned, string appId, string kind, List<T> rows, Func<T, string> idOf,
        Func<Stream, IReadOnlyList<T>, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var (fresh, ids, duplicates) = await FreshAsync(appId, kind, rows, idOf, cancellationToken).ConfigureAwait(false);
        if (fresh.Count > 0) planned.Add(new PlannedFile(appId, kind, ids, (stream, ct) => write(stream, fresh, ct)));
        return duplicates;
    }

    /// <summary>
    /// The rows of each app, in their order. When a flush holds one app (as in a deployment of one app, or the bench), its
    /// list is used as it is, where grouping copied every row into a new list.
    /// </summary>
    private static IEnumerable<(string AppId, List<T> Rows)> ByApp<T>(List<T> rows, Func<T, string> appOf)
    {
        if (rows.Count == 0) yield break;
        var first = appOf(rows[0]);
        if (rows.TrueForAll(r => string.Equals(appOf(r), first, StringComparison.Ordinal)))
        {
            yield return (first, rows);
            yield break;
        }
        foreach (var group in rows.GroupBy(appOf, StringComparer.Ordinal)) yield return (group.Key, group.ToList());
    }

    /// <summary>The rows whose id is neither in the dataset nor earlier in the batch, and those rows' ids.</summary>
    private async Task<(List<T> Fresh, RowIds Ids, int Duplicates)> FreshAsync<T>(
        string appId, string kind, List<T> rows, Func<T, string> idOf, CancellationToken cancellationToken)
    {
        var committed = await IndexAsync(appId, kind, cancellationToken).ConfigureAwait(false);
        var ids = new RowIds(committed, rows.Count);
        var fresh = new List<T>(rows.Count);
        foreach (var row in rows)
        {
            if (ids.TryAdd(idOf(row))) fresh.Add(row);
        }
        return (fresh, ids, rows.Count - fresh.Count);
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
        private readonly HashSet<PackedId> _stableIds;
        private readonly HashSet<string> _otherIds = new(StringComparer.Ordinal);

        /// <summary>An index sized for <paramref name="capacity"/> stable ids before it grows.</summary>
        public DatasetIndex(int capacity = 0) => _stableIds = new HashSet<PackedId>(capacity);

        public HashSet<string> Files { get; } = new(StringComparer.Ordinal);

        public bool Contains(PackedId? packed, string id) => packed is { } stable ? _stableIds.Contains(stable) : _otherIds.Contains(id);

        public void AddRange(IEnumerable<string> ids)
        {
            foreach (var id in ids) Add(Pack(id), id);
        }

        /// <summary>Adds the id (<paramref name="packed"/> when it is a stable one); false when it was already there.</summary>
        public bool Add(PackedId? packed, string id) => packed is { } stable ? _stableIds.Add(stable) : _otherIds.Add(id);

        public static PackedId? Pack(string id) =>
            id.Length == 32 && !id.AsSpan().ContainsAnyExcept(LowerHex)
                ? new PackedId(Half(id.AsSpan(0, 16)), Half(id.AsSpan(16)))
                : null;

        private static ulong Half(ReadOnlySpan<char> hex) => ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    /// <summary>A stable id's 128 bits (two halves: a UInt128 is aligned to 16 bytes, which makes each set entry 32).</summary>
    private readonly record struct PackedId(ulong High, ulong Low);

    /// <summary>
    /// The ids of the rows one write keeps, in their order. Each id is packed once (<see cref="DatasetIndex.Pack"/>): to
    /// check it against the dataset and the batch, and to add it to the dataset's index once its file is durable.
    /// </summary>
    private sealed class RowIds(DatasetIndex committed, int capacity)
    {
        private readonly List<(PackedId? Packed, string Id)> _kept = new(capacity);
        private readonly DatasetIndex _inBatch = new(capacity);

        public IEnumerable<string> Ids => _kept.Select(k => k.Id);

        /// <summary>How many ids were kept: one per row of the file.</summary>
        public int Count => _kept.Count;

        /// <summary>True, and the id is kept, when neither the dataset nor an earlier row of the batch has it.</summary>
        public bool TryAdd(string id)
        {
            var packed = DatasetIndex.Pack(id);
            if (committed.Contains(packed, id) || !_inBatch.Add(packed, id)) return false;
            _kept.Add((packed, id));
            return true;
        }

        /// <summary>The file with these rows is durable: the dataset has their ids now.</summary>
        public void Commit(string fileName)
        {
            committed.Files.Add(fileName);
            foreach (var (packed, id) in _kept) committed.Add(packed, id);
        }
    }

    private async Task<string> WriteFileAsync(PlannedFile file, CancellationToken cancellationToken)
    {
        var folder = FolderOf(file.AppId, file.Kind);
        DurableFile.CreatePrivateDirectory(folder);
        var path = Path.Combine(folder, FileName(file.Ids.Ids));
        await DurableFile.WriteBufferedAsync(path, stream => file.Write(stream, cancellationToken), cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <summary>
    /// Content-addressed: the same rows give the same name, so a rewrite replaces rather than adds. The name is the first
    /// 10 bytes of SHA-256 over each id's UTF-8 and a newline, in row order. The bytes go to the hash in chunks of up to
    /// <see cref="NameChunkBytes"/>: each call crosses into OpenSSL, and two calls per id cost more than the hashing.
    /// </summary>
    internal static string FileName(IEnumerable<string> ids)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = ArrayPool<byte>.Shared.Rent(NameChunkBytes);
        try
        {
            var used = 0;
            foreach (var id in ids)
            {
                var most = Encoding.UTF8.GetMaxByteCount(id.Length) + 1;
                if (used + most > chunk.Length)
                {
                    hash.AppendData(chunk, 0, used);
                    used = 0;
                }
                if (most > chunk.Length)
                {
                    // An id longer than a chunk (a file written by hand): hashed on its own.
                    hash.AppendData(Encoding.UTF8.GetBytes(id));
                    hash.AppendData("\n"u8);
                    continue;
                }
                used += Encoding.UTF8.GetBytes(id, chunk.AsSpan(used));
                chunk[used++] = (byte)'\n';
            }
            hash.AppendData(chunk, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return "part-" + Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 10)) + DatasetPaths.Extension;
    }

    private const int NameChunkBytes = 64 * 1024;
}
