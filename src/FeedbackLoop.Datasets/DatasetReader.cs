using FeedbackLoop.Contracts.Datasets;
using Parquet;
using Parquet.Serialization;

namespace FeedbackLoop.Datasets;

/// <summary>Reads datasets back as contract records (training, evaluation, reports, tests).</summary>
public static class DatasetReader
{
    /// <summary>Every preference pair of an app, file by file in name order.</summary>
    public static Task<IReadOnlyList<PreferencePair>> ReadPairsAsync(string dataRoot, string appId, CancellationToken cancellationToken = default) =>
        ReadPairFilesAsync(DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs)), cancellationToken);

    /// <summary>The preference pairs of the given files only (a frozen snapshot).</summary>
    public static async Task<IReadOnlyList<PreferencePair>> ReadPairFilesAsync(IEnumerable<string> files, CancellationToken cancellationToken = default)
    {
        var rows = new List<PreferencePair>();
        foreach (var file in files)
        {
            rows.AddRange((await ReadFileAsync<PreferencePairRow>(file, cancellationToken).ConfigureAwait(false)).Select(r => r.ToRecord()));
        }
        return rows;
    }

    /// <summary>Every feedback label of an app.</summary>
    public static Task<IReadOnlyList<FeedbackLabel>> ReadLabelsAsync(string dataRoot, string appId, CancellationToken cancellationToken = default) =>
        ReadLabelFilesAsync(DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.FeedbackLabels)), cancellationToken);

    /// <summary>The feedback labels of the given files only (a frozen snapshot).</summary>
    public static async Task<IReadOnlyList<FeedbackLabel>> ReadLabelFilesAsync(IEnumerable<string> files, CancellationToken cancellationToken = default)
    {
        var rows = new List<FeedbackLabel>();
        foreach (var file in files)
        {
            rows.AddRange((await ReadFileAsync<FeedbackLabelRow>(file, cancellationToken).ConfigureAwait(false)).Select(r => r.ToRecord()));
        }
        return rows;
    }

    /// <summary>
    /// The engagement of an app per (model version, variant, window) over every partition: its rows summed. Use
    /// this, not <see cref="ReadEngagementAsync"/>, for totals: a row holds one partition's share of a window.
    /// </summary>
    public static async Task<IReadOnlyList<EngagementTotal>> ReadEngagementTotalsAsync(string dataRoot, string appId, CancellationToken cancellationToken = default) =>
        EngagementTotal.Of(await ReadEngagementAsync(dataRoot, appId, cancellationToken).ConfigureAwait(false));

    /// <summary>Every engagement row of an app: one per (model version, variant, window, source partition).</summary>
    public static async Task<IReadOnlyList<EngagementWindow>> ReadEngagementAsync(string dataRoot, string appId, CancellationToken cancellationToken = default)
    {
        var rows = new List<EngagementWindow>();
        foreach (var file in DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.Engagement)))
        {
            rows.AddRange((await ReadFileAsync<EngagementRow>(file, cancellationToken).ConfigureAwait(false)).Select(r => r.ToRecord()));
        }
        return rows;
    }

    /// <summary>Row count of a file from its footer, without reading data pages.</summary>
    public static async Task<long> CountRowsAsync(string file, CancellationToken cancellationToken = default)
    {
        var reader = await ParquetReader.CreateAsync(file, DatasetStore.Options, cancellationToken).ConfigureAwait(false);
        await using var _ = reader.ConfigureAwait(false);
        long count = 0;
        for (var i = 0; i < reader.RowGroupCount; i++)
        {
            using var group = reader.OpenRowGroupReader(i);
            count += group.RowCount;
        }
        return count;
    }

    /// <summary>Just the id column, so that indexing existing datasets at start stays cheap.</summary>
    internal static async Task<IReadOnlyList<string>> ReadIdColumnAsync(string file, string column, CancellationToken cancellationToken)
    {
        var reader = await ParquetReader.CreateAsync(file, DatasetStore.Options, cancellationToken).ConfigureAwait(false);
        await using var _ = reader.ConfigureAwait(false);
        var field = reader.Schema.DataFields.Single(f => f.Name == column);
        var ids = new List<string>();
        for (var i = 0; i < reader.RowGroupCount; i++)
        {
            using var group = reader.OpenRowGroupReader(i);
            var values = new string?[group.RowCount];
            await group.ReadAsync(field, values.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            ids.AddRange(values.OfType<string>());
        }
        return ids;
    }

    private static async Task<IList<T>> ReadFileAsync<T>(string file, CancellationToken cancellationToken) where T : class, new()
    {
        await using var stream = File.OpenRead(file);
        var result = await ParquetSerializer.DeserializeAsync<T>(stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Data;
    }
}
