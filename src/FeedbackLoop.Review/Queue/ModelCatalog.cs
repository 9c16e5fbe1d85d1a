namespace FeedbackLoop.Review.Queue;

/// <summary>One model of an app as the models page shows it: the snapshot its run trained on and its gate decision.</summary>
public sealed record ModelRow(
    string Version, string Status, DateTimeOffset CreatedAt, string RunId, string? SnapshotId, long? Pairs, bool? Promoted, string? GateReason);

/// <summary>
/// The models of an app, read from the orchestrator's store by the host that starts the app (the review app itself does
/// not depend on the orchestration code). Without a store there is nothing to show, and the page says so.
/// </summary>
public sealed class ModelCatalog(Func<string, IReadOnlyList<ModelRow>>? read, string? source)
{
    /// <summary>Where the models come from (the store's path), or null when no store was found.</summary>
    public string? Source { get; } = source;

    public IReadOnlyList<ModelRow> For(string appId) => read is null ? [] : read(appId);
}
