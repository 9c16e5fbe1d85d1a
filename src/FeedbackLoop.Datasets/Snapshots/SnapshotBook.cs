using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Snapshots;

/// <summary>A snapshot id that names nothing, or a snapshot request the rules refuse; the message never quotes user text.</summary>
public sealed class SnapshotException(string message) : InvalidOperationException(message);

/// <summary>What <see cref="SnapshotBook.TakeAsync"/> did: the snapshot, and whether it is new.</summary>
public sealed record SnapshotTaken(SnapshotManifest Manifest, bool Created);

/// <summary>
/// Takes, finds and lists the snapshots under a data folder. A snapshot's id is derived from what it holds (app, label,
/// every file's hash, the pipeline's hash, the ids of the decisions applied), so taking a snapshot again when nothing
/// changed returns the existing one instead of adding a copy (docs/adr/0017-snapshot-manifests.md).
/// </summary>
public sealed partial class SnapshotBook(string dataRoot, TimeProvider? time = null)
{
    /// <summary>The longest snapshot label, in characters.</summary>
    public const int MaxNameLength = 100;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The data folder.</summary>
    public string DataRoot { get; } = dataRoot;

    /// <summary>Whether <paramref name="id"/> has the shape of a snapshot id (checked before it becomes part of a path).</summary>
    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>
    /// Freezes the app's committed pairs and labels with the latest review decision per item, and records the pipeline
    /// rules in force when <paramref name="pipeline"/> is known.
    /// </summary>
    public async Task<SnapshotTaken> TakeAsync(string appId, string? name, PipelineInForce? pipeline, CancellationToken cancellationToken = default)
    {
        if (name is not null && (name.Length is 0 or > MaxNameLength || name.Any(char.IsControl)))
            throw new SnapshotException($"a snapshot name is 1 to {MaxNameLength} characters without control characters");
        var folder = DatasetPaths.SnapshotsFolder(DataRoot, appId);
        var (pairs, pairIds) = await DatasetAsync(appId, DatasetKinds.PreferencePairs, cancellationToken).ConfigureAwait(false);
        var (labels, labelIds) = await DatasetAsync(appId, DatasetKinds.FeedbackLabels, cancellationToken).ConfigureAwait(false);
        var log = await new ReviewLog(DataRoot, appId).ReadAsync(cancellationToken).ConfigureAwait(false);
        var applied = ReviewRules.Latest(log).Values
            .Where(d => pairIds.Contains(d.Item) || labelIds.Contains(d.Item))
            .OrderBy(d => d.Item, StringComparer.Ordinal).ToList();
        var excluded = applied.Where(d => d.After.Excludes).Select(d => d.Item).ToHashSet(StringComparer.Ordinal);

        var id = Id(appId, name, pairs, labels, pipeline, applied);
        var path = Path.Combine(folder, id + ".json");
        if (File.Exists(path)) return new SnapshotTaken(await ReadAsync(path, cancellationToken).ConfigureAwait(false), Created: false);

        var earlier = List(appId);
        var manifest = new SnapshotManifest(
            SnapshotManifest.CurrentFormat, id, appId, name, _time.GetUtcNow(), earlier.Count == 0 ? null : earlier[^1].SnapshotId,
            new ManifestDataset(pairIds.Count, pairIds.Count(p => !excluded.Contains(p)), pairs),
            new ManifestDataset(labelIds.Count, labelIds.Count(l => !excluded.Contains(l)), labels),
            pipeline,
            new ManifestReview(log.Count,
                applied.GroupBy(d => d.Action, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
                applied));
        DurableFile.CreatePrivateDirectory(folder);
        // Two processes taking the same snapshot at once write the same content (only created_at differs); the rename
        // keeps one whole manifest either way.
        await DurableFile.WriteAsync(path, stream => JsonSerializer.SerializeAsync(stream, manifest, DatasetJson.Indented, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new SnapshotTaken(manifest, Created: true);
    }

    /// <summary>The snapshots of one app, or of every app, oldest first.</summary>
    public IReadOnlyList<SnapshotManifest> List(string? appId = null)
    {
        var apps = appId is null ? DatasetPaths.Apps(DataRoot) : [appId];
        var manifests = new List<SnapshotManifest>();
        foreach (var app in apps)
        {
            var folder = DatasetPaths.SnapshotsFolder(DataRoot, app);
            if (!Directory.Exists(folder)) continue;
            foreach (var file in Directory.EnumerateFiles(folder, "snap-*.json"))
            {
                if (IsId(Path.GetFileNameWithoutExtension(file))) manifests.Add(Read(file));
            }
        }
        return [.. manifests.OrderBy(m => m.CreatedAt).ThenBy(m => m.SnapshotId, StringComparer.Ordinal)];
    }

    /// <summary>The snapshot with this id, in whichever app holds it.</summary>
    public SnapshotManifest Get(string id)
    {
        if (!IsId(id)) throw new SnapshotException("a snapshot id is 'snap-' and 16 hexadecimal digits (feedbackloop datasets list shows them)");
        foreach (var app in DatasetPaths.Apps(DataRoot))
        {
            var path = Path.Combine(DatasetPaths.SnapshotsFolder(DataRoot, app), id + ".json");
            if (File.Exists(path)) return Read(path);
        }
        throw new SnapshotException($"no snapshot {id} under {Path.GetFullPath(DataRoot)} (feedbackloop datasets list shows them)");
    }

    /// <summary>The ids a snapshot holds and their review states, read from the id columns of its files.</summary>
    public async Task<SnapshotContent> ContentAsync(SnapshotManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var pairs = await IdsAsync(manifest, DatasetKinds.PreferencePairs, manifest.PreferencePairs, cancellationToken).ConfigureAwait(false);
        var labels = await IdsAsync(manifest, DatasetKinds.FeedbackLabels, manifest.FeedbackLabels, cancellationToken).ConfigureAwait(false);
        return new SnapshotContent(pairs, labels, manifest.States());
    }

    /// <summary>The path of one of a snapshot's files; the name must be a bare dataset file name (a hand-edited manifest cannot point elsewhere).</summary>
    internal string FileOf(SnapshotManifest manifest, string kind, ManifestFile file)
    {
        if (Path.GetFileName(file.Name) != file.Name || !file.Name.StartsWith("part-", StringComparison.Ordinal) || !file.Name.EndsWith(DatasetPaths.Extension, StringComparison.Ordinal))
            throw new InvalidDataException($"snapshot {manifest.SnapshotId} names a file that is not a dataset file");
        return Path.Combine(DatasetPaths.Folder(DataRoot, manifest.AppId, kind), file.Name);
    }

    private async Task<HashSet<string>> IdsAsync(SnapshotManifest manifest, string kind, ManifestDataset dataset, CancellationToken cancellationToken)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in dataset.Files)
        {
            var path = FileOf(manifest, kind, file);
            if (!File.Exists(path)) throw new InvalidDataException($"snapshot {manifest.SnapshotId}: its file {file.Name} is gone from {kind}");
            ids.UnionWith(await DatasetReader.ReadIdColumnAsync(path, DatasetPaths.IdColumn(kind), cancellationToken).ConfigureAwait(false));
        }
        return ids;
    }

    private async Task<(List<ManifestFile> Files, HashSet<string> Ids)> DatasetAsync(string appId, string kind, CancellationToken cancellationToken)
    {
        var files = new List<ManifestFile>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in DatasetPaths.Files(DatasetPaths.Folder(DataRoot, appId, kind)))
        {
            var fileIds = await DatasetReader.ReadIdColumnAsync(path, DatasetPaths.IdColumn(kind), cancellationToken).ConfigureAwait(false);
            ids.UnionWith(fileIds);
            files.Add(new ManifestFile(Path.GetFileName(path), fileIds.Count, new FileInfo(path).Length, await HashAsync(path, cancellationToken).ConfigureAwait(false)));
        }
        return (files, ids);
    }

    /// <summary>The SHA-256 of a file, lower-case hex.</summary>
    internal static async Task<string> HashAsync(string path, CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using var _ = stream.ConfigureAwait(false);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
    }

    private static string Id(string appId, string? name, List<ManifestFile> pairs, List<ManifestFile> labels, PipelineInForce? pipeline, List<ReviewDecision> applied)
    {
        var text = new StringBuilder().Append(appId).Append('\n').Append(name).Append('\n');
        foreach (var f in pairs) text.Append("pairs ").Append(f.Name).Append(' ').Append(f.Sha256).Append('\n');
        foreach (var f in labels) text.Append("labels ").Append(f.Name).Append(' ').Append(f.Sha256).Append('\n');
        text.Append("pipeline ").Append(pipeline?.Sha256).Append('\n');
        foreach (var d in applied) text.Append("decision ").Append(d.DecisionId).Append('\n');
        return "snap-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())).AsSpan(0, 8));
    }

    private static SnapshotManifest Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(JsonSerializer.Deserialize<SnapshotManifest>(stream, DatasetJson.Indented), path);
    }

    private static async Task<SnapshotManifest> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var stream = File.OpenRead(path);
        await using var _ = stream.ConfigureAwait(false);
        return Parse(await JsonSerializer.DeserializeAsync<SnapshotManifest>(stream, DatasetJson.Indented, cancellationToken).ConfigureAwait(false), path);
    }

    private static SnapshotManifest Parse(SnapshotManifest? manifest, string path)
    {
        if (manifest is null || manifest.Format != SnapshotManifest.CurrentFormat || manifest.SnapshotId != Path.GetFileNameWithoutExtension(path))
            throw new InvalidDataException($"{path} is not a format-{SnapshotManifest.CurrentFormat} snapshot manifest named after its id");
        return manifest;
    }

    [GeneratedRegex("^snap-[0-9a-f]{16}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
