using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Tuning;

namespace FeedbackLoop.Datasets;

/// <summary>Snapshots of the preference-pair files under a data folder.</summary>
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
    public async Task<IReadOnlyList<PreferencePair>> ReadAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken = default)
    {
        var pairs = await DatasetReader.ReadPairFilesAsync(snapshot.Files.Select(f => f.Path), cancellationToken).ConfigureAwait(false);
        // Files never change once renamed into place; a count mismatch means someone edited the dataset by hand.
        if (pairs.Count != snapshot.TotalPairs)
            throw new InvalidOperationException($"snapshot of {snapshot.AppId} expected {snapshot.TotalPairs} pairs but its files hold {pairs.Count}");
        return pairs;
    }
}
