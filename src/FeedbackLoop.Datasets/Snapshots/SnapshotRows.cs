using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Snapshots;

/// <summary>A pair as it trains in a snapshot: review applied, with the action and, for a correction, the original chosen text.</summary>
public sealed record ReviewedPair(PreferencePair Pair, string ReviewAction, string? OriginalChosen);

/// <summary>A label as it trains in a snapshot, with its review action.</summary>
public sealed record ReviewedLabel(FeedbackLabel Label, string ReviewAction);

/// <summary>The rows a snapshot trains on: excluded items left out, swaps, corrections and flips applied, ids in ordinal order.</summary>
public sealed record SnapshotRows(IReadOnlyList<ReviewedPair> Pairs, IReadOnlyList<ReviewedLabel> Labels)
{
    /// <summary>
    /// Reads a snapshot's files, refusing any whose SHA-256 is not the one recorded (a file changed by hand would silently
    /// change what a model "trained on"), and applies the snapshot's review decisions.
    /// </summary>
    public static async Task<SnapshotRows> ReadAsync(SnapshotBook book, SnapshotManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(book);
        ArgumentNullException.ThrowIfNull(manifest);
        var applied = manifest.Review.Applied.ToDictionary(d => d.Item, StringComparer.Ordinal);

        var pairs = new List<ReviewedPair>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in await VerifiedAsync(book, manifest, DatasetKinds.PreferencePairs, manifest.PreferencePairs, cancellationToken).ConfigureAwait(false))
        {
            foreach (var pair in await DatasetReader.ReadPairFilesAsync([path], cancellationToken).ConfigureAwait(false))
            {
                if (!seen.Add(pair.PairId)) continue;
                var decision = applied.GetValueOrDefault(pair.PairId);
                if (ReviewRules.Apply(pair, decision?.After ?? ReviewState.Unreviewed) is { } reviewed)
                    pairs.Add(new ReviewedPair(reviewed, decision?.Action ?? ReviewActions.None, decision?.Action == ReviewActions.Correct ? pair.Chosen.Content : null));
            }
        }

        var labels = new List<ReviewedLabel>();
        foreach (var path in await VerifiedAsync(book, manifest, DatasetKinds.FeedbackLabels, manifest.FeedbackLabels, cancellationToken).ConfigureAwait(false))
        {
            foreach (var label in await DatasetReader.ReadLabelFilesAsync([path], cancellationToken).ConfigureAwait(false))
            {
                if (!seen.Add(label.LabelId)) continue;
                var decision = applied.GetValueOrDefault(label.LabelId);
                if (ReviewRules.Apply(label, decision?.After ?? ReviewState.Unreviewed) is { } reviewed)
                    labels.Add(new ReviewedLabel(reviewed, decision?.Action ?? ReviewActions.None));
            }
        }
        return new SnapshotRows(
            [.. pairs.OrderBy(p => p.Pair.PairId, StringComparer.Ordinal)],
            [.. labels.OrderBy(l => l.Label.LabelId, StringComparer.Ordinal)]);
    }

    private static async Task<List<string>> VerifiedAsync(SnapshotBook book, SnapshotManifest manifest, string kind, ManifestDataset dataset, CancellationToken cancellationToken)
    {
        var paths = new List<string>(dataset.Files.Count);
        foreach (var file in dataset.Files)
        {
            var path = book.FileOf(manifest, kind, file);
            if (!File.Exists(path)) throw new InvalidDataException($"snapshot {manifest.SnapshotId}: its file {file.Name} is gone from {kind}");
            if (await SnapshotBook.HashAsync(path, cancellationToken).ConfigureAwait(false) != file.Sha256)
                throw new InvalidDataException($"snapshot {manifest.SnapshotId}: {kind}/{file.Name} changed since the snapshot was taken (SHA-256 differs)");
            paths.Add(path);
        }
        return paths;
    }
}
