using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Datasets.Review;

/// <summary>A reviewable item found in an app's datasets: its kind and, for a pair, the chosen text as extracted.</summary>
public sealed record ReviewItem(string Kind, string? OriginalChosen);

/// <summary>
/// Finds the item a decision names, reading id columns only until the file that holds it; the rows of that file are read
/// only when the chosen text is needed (a correction keeps the original).
/// </summary>
internal static class ReviewItems
{
    public static async Task<ReviewItem?> FindAsync(string dataRoot, string appId, string id, bool withChosen, CancellationToken cancellationToken)
    {
        foreach (var file in DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs)))
        {
            var ids = await DatasetReader.ReadIdColumnAsync(file, DatasetPaths.IdColumn(DatasetKinds.PreferencePairs), cancellationToken).ConfigureAwait(false);
            if (!ids.Contains(id, StringComparer.Ordinal)) continue;
            if (!withChosen) return new ReviewItem(ReviewItemKinds.Pair, null);
            var pair = (await DatasetReader.ReadPairFilesAsync([file], cancellationToken).ConfigureAwait(false)).First(p => p.PairId == id);
            return new ReviewItem(ReviewItemKinds.Pair, pair.Chosen.Content);
        }
        foreach (var file in DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.FeedbackLabels)))
        {
            var ids = await DatasetReader.ReadIdColumnAsync(file, DatasetPaths.IdColumn(DatasetKinds.FeedbackLabels), cancellationToken).ConfigureAwait(false);
            if (ids.Contains(id, StringComparer.Ordinal)) return new ReviewItem(ReviewItemKinds.Label, null);
        }
        return null;
    }
}
