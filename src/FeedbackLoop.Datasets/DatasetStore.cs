using System.Security.Cryptography;
using System.Text;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using Parquet;
using Parquet.Serialization;

namespace FeedbackLoop.Datasets;

/// <summary>
/// The datasets under <c>&lt;data&gt;/datasets/&lt;app_id&gt;/&lt;kind&gt;/</c>. Each write adds at most one
/// file per (app, kind), written atomically (temporary name, fsync, rename, folder fsync). Rows whose id is
/// already in the dataset are skipped, so replaying events, or re-running after a crash between writing a
/// file and committing offsets, never adds a row twice. File names are derived from their rows' ids, so
/// the same rows always get the same name.
/// </summary>
public sealed class DatasetStore(string dataRoot) : IExtractionSink
{
    private readonly Dictionary<(string AppId, string Kind), HashSet<string>> _committedIds = [];

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
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.PreferencePairs, fresh.Select(PreferencePairRow.From).ToList(), fresh.Select(p => p.PairId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.PreferencePairs, fresh.Select(p => p.PairId));
            pairs += fresh.Count;
            pairsByApp[group.Key] = fresh.Count;
        }
        foreach (var group in output.Labels.GroupBy(l => l.AppId, StringComparer.Ordinal))
        {
            var (fresh, dup) = await FreshAsync(group.Key, DatasetKinds.FeedbackLabels, group, l => l.LabelId, cancellationToken).ConfigureAwait(false);
            skipped += dup;
            if (fresh.Count == 0) continue;
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.FeedbackLabels, fresh.Select(FeedbackLabelRow.From).ToList(), fresh.Select(l => l.LabelId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.FeedbackLabels, fresh.Select(l => l.LabelId));
            labels += fresh.Count;
        }
        foreach (var group in output.Windows.GroupBy(w => w.AppId, StringComparer.Ordinal))
        {
            var (fresh, dup) = await FreshAsync(group.Key, DatasetKinds.Engagement, group, w => w.WindowId, cancellationToken).ConfigureAwait(false);
            skipped += dup;
            if (fresh.Count == 0) continue;
            files.Add(await WriteFileAsync(group.Key, DatasetKinds.Engagement, fresh.Select(EngagementRow.From).ToList(), fresh.Select(w => w.WindowId), cancellationToken).ConfigureAwait(false));
            Remember(group.Key, DatasetKinds.Engagement, fresh.Select(w => w.WindowId));
            windows += fresh.Count;
        }
        return new ExtractionWriteResult(pairs, labels, windows, skipped, files) { PairsByApp = pairsByApp };
    }

    private async Task<(List<T> Fresh, int Duplicates)> FreshAsync<T>(
        string appId, string kind, IEnumerable<T> rows, Func<T, string> idOf, CancellationToken cancellationToken)
    {
        var committed = await CommittedIdsAsync(appId, kind, cancellationToken).ConfigureAwait(false);
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

    private void Remember(string appId, string kind, IEnumerable<string> ids) => _committedIds[(appId, kind)].UnionWith(ids);

    /// <summary>The ids already in a dataset, read once from its files' id column, then kept up to date.</summary>
    private async Task<HashSet<string>> CommittedIdsAsync(string appId, string kind, CancellationToken cancellationToken)
    {
        if (_committedIds.TryGetValue((appId, kind), out var ids)) return ids;
        ids = new HashSet<string>(StringComparer.Ordinal);
        var folder = FolderOf(appId, kind);
        DurableFile.RemoveLeftovers(folder);
        foreach (var file in DatasetPaths.Files(folder))
        {
            foreach (var id in await DatasetReader.ReadIdColumnAsync(file, DatasetPaths.IdColumn(kind), cancellationToken).ConfigureAwait(false)) ids.Add(id);
        }
        _committedIds[(appId, kind)] = ids;
        return ids;
    }

    private async Task<string> WriteFileAsync<TRow>(string appId, string kind, List<TRow> rows, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var folder = FolderOf(appId, kind);
        DurableFile.CreatePrivateDirectory(folder);
        var path = Path.Combine(folder, FileName(ids));
        await DurableFile.WriteAsync(path, stream => ParquetSerializer.SerializeAsync(rows, stream, Options, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
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
