using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;

namespace FeedbackLoop.Datasets;

/// <summary>
/// Snapshots of the preference-pair files under a data folder. A run's snapshot is frozen as a reviewed snapshot
/// (<see cref="SnapshotBook"/>), so it trains with the review decisions in force and the registry records its id.
/// </summary>
public sealed class DatasetSnapshots(string dataRoot) : ISnapshotSource
{
    /// <inheritdoc />
    public async Task<DatasetSnapshot> CaptureAsync(string appId, CancellationToken cancellationToken = default)
    {
        var files = new List<SnapshotFile>();
        foreach (var file in DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs)))
            files.Add(new SnapshotFile(file, await DatasetReader.CountRowsAsync(file, cancellationToken).ConfigureAwait(false)));
        return new DatasetSnapshot(appId, files);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedbackLabel>> ReadLabelsAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.SnapshotId is not { } id) return [];
        var book = new SnapshotBook(dataRoot);
        var manifest = book.Get(id);
        if (manifest.AppId != snapshot.AppId) throw new InvalidOperationException($"snapshot {id} is not of app {snapshot.AppId}");
        return [.. (await SnapshotRows.ReadAsync(book, manifest, cancellationToken).ConfigureAwait(false)).Labels.Select(l => l.Label)];
    }

    /// <inheritdoc />
    public async Task<DatasetSnapshot> FreezeAsync(DatasetSnapshot captured, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(captured);
        var manifest = (await new SnapshotBook(dataRoot).TakeAsync(captured.AppId, null, null, cancellationToken).ConfigureAwait(false)).Manifest;
        var folder = DatasetPaths.Folder(dataRoot, captured.AppId, DatasetKinds.PreferencePairs);
        return new DatasetSnapshot(captured.AppId, [.. manifest.PreferencePairs.Files.Select(f => new SnapshotFile(Path.Combine(folder, f.Name), f.Rows))])
        {
            SnapshotId = manifest.SnapshotId,
        };
    }

    /// <inheritdoc />
    public async Task<string?> WriteReviewedAsync(DatasetSnapshot snapshot, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.SnapshotId is not { } id) return null;
        var rows = await ReadAsync(snapshot, cancellationToken).ConfigureAwait(false);
        DurableFile.CreatePrivateDirectory(folder);
        var path = Path.Combine(folder, "part-" + id + DatasetPaths.Extension);
        await DurableFile.WriteAsync(path, stream => DatasetColumns.WritePairsAsync(stream, rows, cancellationToken), cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <inheritdoc />
    public async Task<ReviewProgress> ReviewProgressAsync(string appId, DatasetSnapshot? since, CancellationToken cancellationToken = default)
    {
        // Dataset files never change once in place and are named after their rows, so "new since the snapshot" is "in a file
        // the snapshot did not name". Only the id column is read.
        var known = (since?.Files ?? []).Select(f => Path.GetFileName(f.Path)).ToHashSet(StringComparer.Ordinal);
        var idColumn = DatasetPaths.IdColumn(DatasetKinds.PreferencePairs);
        var fresh = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs)))
        {
            if (known.Contains(Path.GetFileName(file))) continue;
            fresh.UnionWith(await DatasetReader.ReadIdColumnAsync(file, idColumn, cancellationToken).ConfigureAwait(false));
        }

        if (fresh.Count == 0) return new ReviewProgress(0, 0);
        var reviewed = (await new ReviewLog(dataRoot, appId).ReadAsync(cancellationToken).ConfigureAwait(false))
            .Where(d => d.Kind == ReviewItemKinds.Pair && fresh.Contains(d.Item))
            .Select(d => d.Item)
            .Distinct(StringComparer.Ordinal)
            .LongCount();
        return new ReviewProgress(fresh.Count, reviewed);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PreferencePair>> ReadAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.SnapshotId is { } id)
        {
            // The manifest's hashes prove the files are the ones frozen; its decisions say which pairs train and how.
            var book = new SnapshotBook(dataRoot);
            var manifest = book.Get(id);
            if (manifest.AppId != snapshot.AppId) throw new InvalidOperationException($"snapshot {id} is not of app {snapshot.AppId}");
            return [.. (await SnapshotRows.ReadAsync(book, manifest, cancellationToken).ConfigureAwait(false)).Pairs.Select(p => p.Pair)];
        }
        var pairs = await DatasetReader.ReadPairFilesAsync(snapshot.Files.Select(f => f.Path), cancellationToken).ConfigureAwait(false);
        // Files never change once renamed into place; a count mismatch means someone edited the dataset by hand.
        if (pairs.Count != snapshot.TotalPairs)
            throw new InvalidOperationException($"snapshot of {snapshot.AppId} expected {snapshot.TotalPairs} pairs but its files hold {pairs.Count}");
        return pairs;
    }
}
