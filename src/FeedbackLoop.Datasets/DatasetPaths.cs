using System.IO.Enumeration;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Datasets;

/// <summary>Where datasets live: <c>&lt;data&gt;/datasets/&lt;app_id&gt;/&lt;kind&gt;/part-*.parquet</c>.</summary>
public static class DatasetPaths
{
    /// <summary>Dataset file extension.</summary>
    public const string Extension = ".parquet";

    /// <summary>
    /// The folder of one dataset, <c>&lt;data&gt;/datasets/&lt;app_id&gt;/&lt;kind&gt;</c>. Nothing is ever read or written
    /// anywhere else (issue 11: app <c>..</c> once wrote to <c>&lt;data&gt;/feedback-labels/</c>): an app id that breaks
    /// <see cref="AppIds.Rule"/>, an unknown kind, or a path that resolves outside the app's folder throws
    /// <see cref="DatasetPathException"/>. The app-id rule alone keeps ids inside; the full-path check is the second lock,
    /// in case that rule is ever loosened.
    /// </summary>
    public static string Folder(string dataRoot, string appId, string kind)
    {
        if (!AppIds.IsValid(appId)) throw new DatasetPathException("the app id is not " + AppIds.Rule);
        if (kind is not (DatasetKinds.PreferencePairs or DatasetKinds.FeedbackLabels or DatasetKinds.Engagement))
            throw new DatasetPathException("the dataset kind is not one of " + DatasetKinds.PreferencePairs + ", " + DatasetKinds.FeedbackLabels + ", " + DatasetKinds.Engagement);
        var folder = Path.Combine(dataRoot, "datasets", appId, kind);
        var datasets = Path.GetFullPath(Path.Combine(dataRoot, "datasets"));
        var app = Path.GetFullPath(Path.Combine(datasets, appId));
        if (!Inside(app, datasets) || !Inside(Path.GetFullPath(folder), app))
            throw new DatasetPathException("the dataset folder would resolve outside <data>/datasets/<app_id>/");
        return folder;
    }

    /// <summary>Whether <paramref name="path"/> lies strictly below <paramref name="folder"/> (both full paths).</summary>
    private static bool Inside(string path, string folder) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The committed files of a dataset folder, in name order (temporaries excluded).</summary>
    public static IReadOnlyList<string> Files(string folder) =>
        Directory.Exists(folder) ? [.. Directory.EnumerateFiles(folder, FilePrefix + "*" + Extension).Order(StringComparer.Ordinal)] : [];

    /// <summary>
    /// The committed files of a dataset folder whose names are not in <paramref name="known"/> (an ordinal set of file names):
    /// what the dataset store reads before each write. Names are compared as the file system returns them, without a string
    /// for each, so a folder of files already read costs its listing only.
    /// </summary>
    public static IReadOnlyList<string> FilesNotIn(string folder, HashSet<string> known)
    {
        if (!Directory.Exists(folder)) return [];
        var lookup = known.GetAlternateLookup<ReadOnlySpan<char>>();
        var files = new FileSystemEnumerable<string>(folder, static (ref entry) => entry.ToFullPath(), new EnumerationOptions { AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = (ref entry) => !entry.IsDirectory && IsCommittedName(entry.FileName) && !lookup.Contains(entry.FileName),
        };
        return [.. files];
    }

    private const string FilePrefix = "part-";

    private static bool IsCommittedName(ReadOnlySpan<char> name) =>
        name.StartsWith(FilePrefix, StringComparison.Ordinal) && name.EndsWith(Extension, StringComparison.Ordinal);

    /// <summary>
    /// The apps that have a datasets folder under <paramref name="dataRoot"/>. A folder whose name is not a valid app id
    /// (left by an older version, or made by hand) is not an app: it is skipped, so nothing downstream asks for its path.
    /// </summary>
    public static IReadOnlyList<string> Apps(string dataRoot)
    {
        var root = Path.Combine(dataRoot, "datasets");
        return Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>().Where(AppIds.IsValid).Order(StringComparer.Ordinal).ToList()
            : [];
    }

    /// <summary>The id column of a dataset kind.</summary>
    public static string IdColumn(string kind) => kind switch
    {
        DatasetKinds.PreferencePairs => "pair_id",
        DatasetKinds.FeedbackLabels => "label_id",
        DatasetKinds.Engagement => "window_id",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown dataset kind"),
    };

    /// <summary>
    /// The folder of an app's review decisions, <c>&lt;data&gt;/datasets/&lt;app_id&gt;/review</c>, under the same guard as
    /// <see cref="Folder"/>.
    /// </summary>
    public static string ReviewFolder(string dataRoot, string appId) => AppSubfolder(dataRoot, appId, "review");

    /// <summary>
    /// The folder of an app's snapshot manifests, <c>&lt;data&gt;/datasets/&lt;app_id&gt;/snapshots</c>, under the same
    /// guard as <see cref="Folder"/>.
    /// </summary>
    public static string SnapshotsFolder(string dataRoot, string appId) => AppSubfolder(dataRoot, appId, "snapshots");

    private static string AppSubfolder(string dataRoot, string appId, string name)
    {
        if (!AppIds.IsValid(appId)) throw new DatasetPathException("the app id is not " + AppIds.Rule);
        var datasets = Path.GetFullPath(Path.Combine(dataRoot, "datasets"));
        var app = Path.GetFullPath(Path.Combine(datasets, appId));
        var folder = Path.Combine(dataRoot, "datasets", appId, name);
        if (!Inside(app, datasets) || !Inside(Path.GetFullPath(folder), app))
            throw new DatasetPathException("the folder would resolve outside <data>/datasets/<app_id>/");
        return folder;
    }
}
