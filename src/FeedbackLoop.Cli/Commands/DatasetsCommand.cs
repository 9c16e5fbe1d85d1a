using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using FeedbackLoop.Datasets.Export;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Pipelines;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop datasets snapshot|list|show|diff|export|agreement</c>: frozen, reviewed snapshots of an app's datasets, the
/// files trainers read, and how much reviewers agree. The work is in FeedbackLoop.Datasets (Snapshots, Export); this only parses and prints.
/// </summary>
internal static class DatasetsCommand
{
    private static readonly JsonSerializerOptions Json = new(RegistryFile.Json) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default };

    public static Command Create()
    {
        var data = DataFolder.Option();
        var app = new Option<string>("--app") { Description = "The app id (as in <data>/datasets/<app_id>/).", Required = true };
        var listApp = new Option<string?>("--app") { Description = "Only this app's snapshots (default: every app's)." };
        var name = new Option<string?>("--name") { Description = $"A label for the snapshot (1 to {SnapshotBook.MaxNameLength} characters); part of what makes its id." };
        var pipeline = new Option<FileInfo?>("--pipeline") { Description = "The pipeline file in force; its app rules and hash are recorded in the snapshot (without it they are recorded as unknown)." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var id = new Argument<string>("snapshot") { Description = "A snapshot id (snap-…; `datasets list` shows them)." };
        var a = new Argument<string>("a") { Description = "The older snapshot id." };
        var b = new Argument<string>("b") { Description = "The newer snapshot id." };
        var snapshotOption = new Option<string>("--snapshot") { Description = "The snapshot to export.", Required = true };
        var format = new Option<string>("--format") { Description = "trl, openai, kto, parquet or arrow (docs/REVIEW.md shows each).", Required = true };
        format.AcceptOnlyFromAmong([.. ExportFormats.All]);
        var output = new Option<FileInfo>("--out") { Description = "The file to write (replaced whole if it exists).", Required = true };

        var snapshot = new Command("snapshot", "Freeze an app's preference pairs and labels with the latest review decision per item. First stdout line: snapshot=<id>. Taking it again with nothing changed prints the same id.") { data, app, name, pipeline };
        snapshot.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, async root =>
        {
            var taken = await new SnapshotBook(root).TakeAsync(parse.GetValue(app)!, parse.GetValue(name), InForce(parse.GetValue(pipeline), parse.GetValue(app)!), ct).ConfigureAwait(false);
            var m = taken.Manifest;
            Console.WriteLine($"snapshot={m.SnapshotId}");
            Console.WriteLine($"app={m.AppId}");
            Console.WriteLine(Invariant($"pairs={m.PreferencePairs.RowsAfterReview} (of {m.PreferencePairs.Rows}; {m.PreferencePairs.Rows - m.PreferencePairs.RowsAfterReview} excluded by review)"));
            Console.WriteLine(Invariant($"labels={m.FeedbackLabels.RowsAfterReview} (of {m.FeedbackLabels.Rows})"));
            Console.WriteLine(Invariant($"decisions_applied={m.Review.Applied.Count}"));
            Console.WriteLine($"parent={m.Parent ?? "none"}");
            if (!taken.Created) Console.Error.WriteLine($"nothing changed since {m.SnapshotId} was taken at {Time(m.CreatedAt)}: it is reused, not copied");
            return 0;
        }));

        var list = new Command("list", "List snapshots, oldest first: id, app, name, time, parent, rows after review.") { data, listApp, json };
        list.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, root =>
        {
            var manifests = new SnapshotBook(root).List(parse.GetValue(listApp));
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(manifests.Select(Summary), Json));
                return Task.FromResult(0);
            }
            var table = new Table().AddColumns("snapshot", "app", "name", "created", "parent", "pairs", "labels", "decisions");
            foreach (var m in manifests)
            {
                table.AddRow(m.SnapshotId, Markup.Escape(m.AppId), Markup.Escape(m.Name ?? "—"), Time(m.CreatedAt), m.Parent ?? "—",
                    Invariant($"{m.PreferencePairs.RowsAfterReview}/{m.PreferencePairs.Rows}"), Invariant($"{m.FeedbackLabels.RowsAfterReview}/{m.FeedbackLabels.Rows}"),
                    m.Review.Applied.Count.ToString(CultureInfo.InvariantCulture));
            }
            AnsiConsole.Write(table);
            if (manifests.Count == 0) Console.Error.WriteLine("no snapshots yet: feedbackloop datasets snapshot --app <app>");
            return Task.FromResult(0);
        }));

        var show = new Command("show", "Show a snapshot: its files, rows, hashes, pipeline rules, parent and review (--json: the whole manifest).") { id, data, json };
        show.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, root =>
        {
            var m = new SnapshotBook(root).Get(parse.GetValue(id)!);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(m, Json));
                return Task.FromResult(0);
            }
            Console.WriteLine($"snapshot={m.SnapshotId}");
            Console.WriteLine($"app={m.AppId}");
            Console.WriteLine($"name={LogTextOf(m.Name)}");
            Console.WriteLine($"created={Time(m.CreatedAt)}");
            Console.WriteLine($"parent={m.Parent ?? "none"}");
            Console.WriteLine(m.Pipeline is { } p
                ? $"pipeline={LogTextOf(p.Source)} sha256={p.Sha256} rules={string.Join(',', p.Rules.Select(r => Invariant($"{r.Key}:{(r.Value.Enabled ? "on" : "off")}x{r.Value.Weight}")))} labels={(p.LabelsEnabled ? "on" : "off")}"
                : "pipeline=unknown");
            foreach (var (kind, d) in new[] { ("preference-pairs", m.PreferencePairs), ("feedback-labels", m.FeedbackLabels) })
            {
                Console.WriteLine(Invariant($"{kind}: {d.Rows} rows, {d.RowsAfterReview} after review, {d.Files.Count} files"));
                foreach (var f in d.Files) Console.WriteLine(Invariant($"  {f.Name} rows={f.Rows} bytes={f.Bytes} sha256={f.Sha256}"));
            }
            Console.WriteLine(Invariant($"review: {m.Review.LogEntries} log entries read, {m.Review.Applied.Count} decisions applied")
                + (m.Review.Actions.Count == 0 ? "" : " (" + string.Join(", ", m.Review.Actions.Select(x => Invariant($"{x.Key} {x.Value}"))) + ")"));
            return Task.FromResult(0);
        }));

        var diff = new Command("diff", "What changed from snapshot a to snapshot b: rows added, rows removed, rows whose review changed.") { a, b, data, json };
        diff.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, async root =>
        {
            var book = new SnapshotBook(root);
            var (ma, mb) = (book.Get(parse.GetValue(a)!), book.Get(parse.GetValue(b)!));
            if (ma.AppId != mb.AppId) throw new SnapshotException("the two snapshots belong to different apps; diff compares snapshots of one app");
            var d = SnapshotDiff.Compute(await book.ContentAsync(ma, ct).ConfigureAwait(false), await book.ContentAsync(mb, ct).ConfigureAwait(false));
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { a = ma.SnapshotId, b = mb.SnapshotId, d.AddedPairs, d.RemovedPairs, d.AddedLabels, d.RemovedLabels, d.ChangedByReview }, Json));
                return 0;
            }
            Console.WriteLine($"diff={ma.SnapshotId}..{mb.SnapshotId}");
            Console.WriteLine(Invariant($"pairs added={d.AddedPairs.Count} removed={d.RemovedPairs.Count}"));
            Console.WriteLine(Invariant($"labels added={d.AddedLabels.Count} removed={d.RemovedLabels.Count}"));
            Console.WriteLine(Invariant($"changed by review={d.ChangedByReview.Count}"));
            foreach (var g in d.ChangedByReview.GroupBy(c => $"{c.Before.Action} -> {c.After.Action}").OrderBy(g => g.Key, StringComparer.Ordinal))
                Console.WriteLine(Invariant($"  {g.Key}: {g.Count()}"));
            return 0;
        }));

        var export = new Command("export", "Write a snapshot's training rows (review applied) as trl, openai or kto JSONL, one Parquet file, or an Arrow IPC file. First stdout line: exported=<path>.") { snapshotOption, format, output, data };
        export.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, async root =>
        {
            var book = new SnapshotBook(root);
            var manifest = book.Get(parse.GetValue(snapshotOption)!);
            var rows = await SnapshotRows.ReadAsync(book, manifest, ct).ConfigureAwait(false);
            var result = await SnapshotExport.WriteAsync(rows, parse.GetValue(format)!, parse.GetValue(output)!.FullName, ct).ConfigureAwait(false);
            Console.WriteLine($"exported={result.Path}");
            Console.WriteLine($"format={result.Format}");
            Console.WriteLine(Invariant($"rows={result.Rows}"));
            Console.WriteLine($"snapshot={manifest.SnapshotId}");
            return 0;
        }));

        var kind = new Option<string>("--kind") { Description = "Which items: pair or label.", DefaultValueFactory = _ => ReviewItemKinds.Pair };
        kind.AcceptOnlyFromAmong(ReviewItemKinds.Pair, ReviewItemKinds.Label);
        var agreement = new Command("agreement", "How much reviewers agree on the items several of them decided: Cohen's kappa for two reviewers, Fleiss' for more, and Cohen's for each pair of reviewers. First stdout line: kappa=<figure> (or undefined).") { data, app, kind, json };
        agreement.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, async root =>
        {
            var report = ReviewAgreement.Measure(await new ReviewLog(root, parse.GetValue(app)!).ReadAsync(ct).ConfigureAwait(false), parse.GetValue(kind)!);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(report, Json));
                return 0;
            }
            Console.WriteLine($"kappa={Kappa(report.Kappa)}");
            Console.WriteLine($"method={report.Method}");
            Console.WriteLine(Invariant($"items_compared={report.ItemsCompared}"));
            Console.WriteLine(Invariant($"reviewers={report.Reviewers.Count}"));
            if (report.Note is not null) Console.WriteLine($"note={report.Note}");
            if (report.Pairs.Count > 0)
            {
                var table = new Table().AddColumns("reviewer", "reviewer", "items", "agreed", "kappa");
                foreach (var pair in report.Pairs)
                {
                    table.AddRow(Markup.Escape(pair.ReviewerA), Markup.Escape(pair.ReviewerB), pair.ItemsCompared.ToString(CultureInfo.InvariantCulture),
                        pair.ObservedAgreement is { } agreed ? agreed.ToString("P0", CultureInfo.InvariantCulture) : "—", Kappa(pair.Kappa));
                }
                AnsiConsole.Write(table);
            }
            return 0;
        }));

        return new Command("datasets", "Snapshots of the curated datasets (immutable, with the review applied), their diffs, exports for trainers, and reviewer agreement.") { snapshot, list, show, diff, export, agreement };
    }

    /// <summary>The app's rules in the pipeline file, with the file's hash; null when no file was given.</summary>
    private static PipelineInForce? InForce(FileInfo? file, string appId)
    {
        if (file is null) return null;
        if (!file.Exists) throw new SnapshotException($"no pipeline file at {file.FullName}");
        var rules = PipelineLoader.Load(file.FullName).For(appId).Rules;
        return new PipelineInForce(file.FullName, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName))),
            rules.Signals.ToDictionary(s => s.Signal, s => new RuleInForce(s.Rule.Enabled, s.Rule.Weight), StringComparer.Ordinal), rules.LabelsEnabled);
    }

    private static object Summary(SnapshotManifest m) => new
    {
        snapshot = m.SnapshotId, app = m.AppId, m.Name, created_at = m.CreatedAt, m.Parent,
        pairs = m.PreferencePairs.RowsAfterReview, pairs_extracted = m.PreferencePairs.Rows,
        labels = m.FeedbackLabels.RowsAfterReview, labels_extracted = m.FeedbackLabels.Rows, decisions_applied = m.Review.Applied.Count,
    };

    private static string LogTextOf(string? text) => text is null ? "none" : Contracts.LogText.Escape(text);

    private static string Kappa(double? kappa) => kappa is { } k ? k.ToString("0.000", CultureInfo.InvariantCulture) : "undefined";

    private static string Time(DateTimeOffset at) => at.ToString("u", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The <c>--data</c> option of the dataset and review commands, and how they report refusals.</summary>
internal static class DataFolder
{
    public static Option<DirectoryInfo?> Option() => new("--data")
    {
        Description = $"Data folder (datasets under <data>/datasets/<app_id>/). Default: ${LoopLocations.DataVariable}, else the configuration file's {LoopLocations.DataKey}, else {LoopLocations.DefaultData}.",
    };

    /// <summary>
    /// Runs <paramref name="action"/> on the resolved data folder. A missing folder, a refused request or a damaged file is a
    /// message on stderr and exit code 2, never a stack trace; messages name rules and ids, never user text.
    /// </summary>
    public static async Task<int> RunAsync(ParseResult parse, Option<DirectoryInfo?> option, Func<string, Task<int>> action)
    {
        var root = LoopLocations.Resolve(parse.GetValue(option)?.FullName, null).Data;
        if (!Directory.Exists(Path.Combine(root, "datasets")))
        {
            await Console.Error.WriteLineAsync($"No datasets under {root}: run `extract` (or the demo) first, or pass --data <folder> (or set {LoopLocations.DataVariable}).").ConfigureAwait(false);
            return 2;
        }
        try
        {
            return await action(root).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or ArgumentException or PipelineException or JsonException)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
    }
}
