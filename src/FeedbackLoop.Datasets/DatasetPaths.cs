using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Datasets;

/// <summary>Where datasets live: <c>&lt;data&gt;/datasets/&lt;app_id&gt;/&lt;kind&gt;/part-*.parquet</c>.</summary>
public static class DatasetPaths
{
    /// <summary>Dataset file extension.</summary>
    public const string Extension = ".parquet";

    /// <summary>The folder of one dataset.</summary>
    public static string Folder(string dataRoot, string appId, string kind) => Path.Combine(dataRoot, "datasets", appId, kind);

    /// <summary>The committed files of a dataset folder, in name order (temporaries excluded).</summary>
    public static IReadOnlyList<string> Files(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "part-*" + Extension).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The apps that have a datasets folder under <paramref name="dataRoot"/>.</summary>
    public static IReadOnlyList<string> Apps(string dataRoot)
    {
        var root = Path.Combine(dataRoot, "datasets");
        return Directory.Exists(root) ? Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList() : [];
    }

    /// <summary>The id column of a dataset kind.</summary>
    public static string IdColumn(string kind) => kind switch
    {
        DatasetKinds.PreferencePairs => "pair_id",
        DatasetKinds.FeedbackLabels => "label_id",
        DatasetKinds.Engagement => "window_id",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown dataset kind"),
    };
}
