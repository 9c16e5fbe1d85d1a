using System.Text.Json;
using DuckDB.NET.Data;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Review decisions, snapshots and exports through the CLI as real processes, on a data folder the dataset store wrote;
/// every export is read back by a reader we did not write (DuckDB for Parquet and JSON lines, npm apache-arrow for Arrow).
/// </summary>
public sealed class SnapshotExportTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const string App = "shop";

    // Texts a format can lose or a page could run: quotes, line breaks, markup, a javascript: URL, non-BMP characters.
    private const string Hostile = "He said \"<script>alert(1)</script>\"\nline two\t<img src=x onerror=alert(2)> [x](javascript:alert(3)) 🇫🇷";
    private const string Correction = "A corrected answer,\nwith \"quotes\" and <b>markup</b>.";

    private readonly TempFolder _folder = new("snapshot-export");
    private readonly string _data;
    private readonly List<PreferencePair> _pairs;
    private readonly List<FeedbackLabel> _labels;

    public SnapshotExportTests()
    {
        _data = _folder.Combine("data");
        var at = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        _pairs = [.. Enumerable.Range(0, 6).Select(i => new PreferencePair(
            StableId.Pair(PairSignals.Comparison, "g" + i, "r" + i), App,
            [new ConversationTurn("system", "Be brief."), new ConversationTurn("user", $"Question {i}: {Hostile}")],
            new ConversationTurn("assistant", $"Chosen {i} {Hostile}"), new ConversationTurn("assistant", $"Rejected {i}"),
            PairSignals.Comparison, 1.0 + i, "g" + i, "r" + i, "model-a", "model-b", "s" + i, "u" + i, at.AddMinutes(i).AddTicks(17)))
            .OrderBy(p => p.PairId, StringComparer.Ordinal)];
        _labels = [.. Enumerable.Range(0, 2).Select(i => new FeedbackLabel(
            StableId.Label("g" + i, "u" + i), App, [new ConversationTurn("user", "Label prompt " + i)], new ConversationTurn("assistant", "Label answer " + i),
            i == 0, "g" + i, "model-a", "s" + i, "u" + i, at))
            .OrderBy(l => l.LabelId, StringComparer.Ordinal)];
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Exclude_swap_correct_and_flip_reach_the_next_snapshot_and_all_five_exports_agree_on_rows_and_ids()
    {
        await WriteDatasetsAsync();
        var correctionFile = _folder.Combine("correction.txt");
        await File.WriteAllTextAsync(correctionFile, Correction);
        await DecideAsync("--item", _pairs[0].PairId, "--action", "exclude", "--reason", "harmful");
        await DecideAsync("--item", _pairs[1].PairId, "--action", "swap");
        await DecideAsync("--item", _pairs[2].PairId, "--action", "correct", "--text-file", correctionFile);
        await DecideAsync("--item", _labels[0].LabelId, "--action", "flip");

        var (snapshotLine, _) = await CliAsync(0, "datasets", "snapshot", "--data", _data, "--app", App, "--name", "reviewed");
        Assert.Matches("^snapshot=snap-[0-9a-f]{16}$", snapshotLine);
        var snapshot = snapshotLine["snapshot=".Length..];
        var files = new Dictionary<string, string>();
        foreach (var format in new[] { "trl", "openai", "kto", "parquet", "arrow" })
        {
            files[format] = _folder.Combine("out", "export." + format);
            var (first, output) = await CliAsync(0, "datasets", "export", "--data", _data, "--snapshot", snapshot, "--format", format, "--out", files[format]);
            Assert.Equal("exported=" + files[format], first);
            Assert.Contains(format == "kto" ? "rows=12" : "rows=5", output, StringComparison.Ordinal);
        }

        var trained = _pairs.Skip(1).ToList();
        var ids = trained.Select(p => p.PairId).ToList();
        string[] chosen = [_pairs[1].Rejected.Content, Correction, .. _pairs.Skip(3).Select(p => p.Chosen.Content)];
        string[] rejected = [_pairs[1].Chosen.Content, .. _pairs.Skip(2).Select(p => p.Rejected.Content)];

        // Parquet, by DuckDB: the dataset's columns, review applied, the original kept beside a correction.
        var parquet = Query($"SELECT pair_id, chosen[1].content, rejected[1].content, review_action, original_chosen, prompt[2].content, weight, created_at::VARCHAR FROM read_parquet('{files["parquet"]}')");
        Assert.Equal(ids, parquet.Select(r => r[0]));
        Assert.Equal(chosen, parquet.Select(r => r[1]));
        Assert.Equal(rejected, parquet.Select(r => r[2]));
        Assert.Equal(["swap", "correct", "none", "none", "none"], parquet.Select(r => r[3]));
        Assert.Equal([null, _pairs[2].Chosen.Content, null, null, null], parquet.Select(r => r[4]));
        Assert.Equal(trained.Select(p => p.Prompt[1].Content), parquet.Select(r => r[5]));
        // Microseconds kept, the 0.7 µs beyond them cut, as in the source dataset.
        Assert.Equal(trained.Select(p => p.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + ".000001+00"), parquet.Select(r => r[7]));

        // TRL conversational preference JSONL, by DuckDB.
        var trl = Query($"SELECT pair_id, chosen[1].role, chosen[1].content, rejected[1].content, len(prompt), prompt[2].content FROM read_json('{files["trl"]}', format = 'newline_delimited')");
        Assert.Equal(ids, trl.Select(r => r[0]));
        Assert.All(trl, r => Assert.Equal("assistant", r[1]));
        Assert.Equal(chosen, trl.Select(r => r[2]));
        Assert.Equal(rejected, trl.Select(r => r[3]));
        Assert.All(trl, r => Assert.Equal("2", r[4]));
        Assert.Equal(trained.Select(p => p.Prompt[1].Content), trl.Select(r => r[5]));

        // OpenAI DPO JSONL: exactly its three fields; row i is the same pair as row i of every other format.
        var openai = Query($"SELECT preferred_output[1].content, non_preferred_output[1].content, input.messages[2].content, len(preferred_output), preferred_output[1].role FROM read_json('{files["openai"]}', format = 'newline_delimited')");
        Assert.Equal(chosen, openai.Select(r => r[0]));
        Assert.Equal(rejected, openai.Select(r => r[1]));
        Assert.Equal(trained.Select(p => p.Prompt[1].Content), openai.Select(r => r[2]));
        Assert.All(openai, r => Assert.Equal(("1", "assistant"), (r[3], r[4])));
        var keys = Query($"SELECT json_keys(json)::VARCHAR FROM read_json_objects('{files["openai"]}', format = 'newline_delimited')");
        Assert.All(keys, k => Assert.Equal("[input, preferred_output, non_preferred_output]", k[0]));

        // KTO JSONL: each trained pair as a desirable and an undesirable row, then the labels (the flipped one inverted).
        var kto = Query($"SELECT id, source, label::VARCHAR, completion[1].content FROM read_json('{files["kto"]}', format = 'newline_delimited')");
        Assert.Equal(12, kto.Count);
        Assert.Equal(ids.SelectMany(id => new[] { id, id }), kto.Take(10).Select(r => r[0]));
        Assert.Equal(Enumerable.Range(0, 5).SelectMany(_ => new[] { "true", "false" }), kto.Take(10).Select(r => r[2]));
        Assert.Equal(chosen, kto.Take(10).Where((_, i) => i % 2 == 0).Select(r => r[3]));
        Assert.Equal(_labels.Select(l => l.LabelId), kto.Skip(10).Select(r => r[0]));
        Assert.All(kto.Skip(10), r => Assert.Equal("label", r[1]));
        Assert.Equal(_labels.Select(l => (l.LabelId == _labels[0].LabelId ? !l.Label : l.Label) ? "true" : "false"), kto.Skip(10).Select(r => r[2]));

        // Arrow IPC, by the npm apache-arrow package: the parquet export's columns and rows.
        using var arrow = await ArrowExportReader.ReadAsync(files["arrow"]);
        var root = arrow.RootElement;
        Assert.Equal(5, root.GetProperty("rows").GetInt32());
        var columns = Query($"SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{files["parquet"]}'))").Select(r => r[0]);
        Assert.Equal(columns, root.GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.Contains(root.GetProperty("fields").EnumerateArray(), f => f.GetProperty("name").GetString() == "created_at" && f.GetProperty("type").GetString()!.Contains("MICROSECOND", StringComparison.Ordinal));
        var rows = root.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(ids, rows.Select(r => r.GetProperty("pair_id").GetString()));
        Assert.Equal(chosen, rows.Select(r => r.GetProperty("chosen")[0].GetProperty("content").GetString()));
        Assert.Equal(rejected, rows.Select(r => r.GetProperty("rejected")[0].GetProperty("content").GetString()));
        Assert.Equal(trained.Select(p => p.Prompt[1].Content), rows.Select(r => r.GetProperty("prompt")[1].GetProperty("content").GetString()));
        Assert.Equal(["swap", "correct", "none", "none", "none"], rows.Select(r => r.GetProperty("review_action").GetString()));
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("original_chosen").ValueKind);
        Assert.Equal(_pairs[2].Chosen.Content, rows[1].GetProperty("original_chosen").GetString());
        Assert.Equal(trained.Select(p => p.Weight), rows.Select(r => r.GetProperty("weight").GetDouble()));
    }

    [Fact]
    public async Task Snapshots_list_show_and_diff_report_lineage_and_what_review_changed()
    {
        await WriteDatasetsAsync();
        var (first, _) = await CliAsync(0, "datasets", "snapshot", "--data", _data, "--app", App);
        var (again, repeated) = await CliAsync(0, "datasets", "snapshot", "--data", _data, "--app", App);
        await DecideAsync("--item", _pairs[3].PairId, "--action", "exclude", "--reason", "a reason of my own");
        var (second, secondOutput) = await CliAsync(0, "datasets", "snapshot", "--data", _data, "--app", App);
        var (a, b) = (first["snapshot=".Length..], second["snapshot=".Length..]);

        Assert.Equal(first, again);
        Assert.Contains("it is reused, not copied", repeated, StringComparison.Ordinal);
        Assert.NotEqual(a, b);
        Assert.Contains("parent=" + a, secondOutput, StringComparison.Ordinal);
        Assert.Contains("pairs=5 (of 6; 1 excluded by review)", secondOutput, StringComparison.Ordinal);

        var (diffLine, diff) = await CliAsync(0, "datasets", "diff", a, b, "--data", _data);
        Assert.Equal($"diff={a}..{b}", diffLine);
        Assert.Contains("pairs added=0 removed=0", diff, StringComparison.Ordinal);
        Assert.Contains("changed by review=1", diff, StringComparison.Ordinal);
        Assert.Contains("none -> exclude: 1", diff, StringComparison.Ordinal);

        var (_, listJson) = await CliAsync(0, "datasets", "list", "--data", _data, "--json");
        using var list = JsonDocument.Parse(listJson);
        Assert.Equal([a, b], list.RootElement.EnumerateArray().Select(s => s.GetProperty("snapshot").GetString()));
        Assert.Equal(JsonValueKind.Null, list.RootElement[0].GetProperty("parent").ValueKind);
        Assert.Equal(a, list.RootElement[1].GetProperty("parent").GetString());

        var (showLine, show) = await CliAsync(0, "datasets", "show", b, "--data", _data);
        Assert.Equal("snapshot=" + b, showLine);
        Assert.Contains("review: 1 log entries read, 1 decisions applied (exclude 1)", show, StringComparison.Ordinal);
        Assert.Contains("pipeline=unknown", show, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_requests_exit_2_with_a_reason_that_does_not_echo_user_text()
    {
        await WriteDatasetsAsync();

        var (_, badReason) = await CliAsync(2, "review", "decide", "--data", _data, "--app", App, "--item", _pairs[0].PairId,
            "--action", "exclude", "--reason", "\u001b[31m<script>alert(1)</script>\nforged line", "--reviewer", "ann");
        var (_, flipPair) = await CliAsync(2, "review", "decide", "--data", _data, "--app", App, "--item", _pairs[0].PairId, "--action", "flip", "--reviewer", "<b>ann</b>");
        var (_, unknown) = await CliAsync(2, "datasets", "export", "--data", _data, "--snapshot", "snap-0000000000000000", "--format", "trl", "--out", _folder.Combine("x.jsonl"));

        Assert.Contains("Refused review decision: the reason holds control characters (line breaks included).", badReason, StringComparison.Ordinal);
        Assert.Contains("Refused review decision: a pair takes one of approve, exclude, swap, correct.", flipPair, StringComparison.Ordinal);
        Assert.Contains("no snapshot snap-0000000000000000", unknown, StringComparison.Ordinal);
        Assert.All(new[] { badReason, flipPair, unknown }, o =>
        {
            Assert.DoesNotContain("<script>", o, StringComparison.Ordinal);
            Assert.DoesNotContain("<b>", o, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", o, StringComparison.Ordinal); // no stack trace
        });
        Assert.False(File.Exists(Path.Combine(DatasetPaths.ReviewFolder(_data, App), "decisions.jsonl")) && File.ReadAllText(Path.Combine(DatasetPaths.ReviewFolder(_data, App), "decisions.jsonl")).Length > 0);
    }

    private async Task WriteDatasetsAsync()
    {
        var output = new ExtractionOutput();
        output.Pairs.AddRange(_pairs);
        output.Labels.AddRange(_labels);
        await new DatasetStore(_data).WriteAsync(output);
    }

    private async Task DecideAsync(params string[] arguments)
    {
        var (first, output) = await CliAsync(0, ["review", "decide", "--data", _data, "--app", App, "--reviewer", "ann", .. arguments]);
        Assert.Matches("^decision=dec-[0-9a-f]{24}$", first);
        Assert.Contains("recorded=true", output, StringComparison.Ordinal);
    }

    /// <summary>Runs the CLI to its end; returns its first stdout line and everything it wrote, after checking the exit code.</summary>
    private static async Task<(string First, string Output)> CliAsync(int expectedExit, params string[] arguments)
    {
        using var cli = CliProcess.Start(arguments);
        var exit = await cli.ExitAsync(Deadline);
        Assert.True(exit == expectedExit, $"exit {exit}, expected {expectedExit}:\n{cli.Output}");
        var first = expectedExit == 0 ? await cli.FirstStdoutLineAsync(TimeSpan.FromSeconds(5)) : "";
        return (first, cli.Output);
    }

    /// <summary>Every row of a DuckDB query, each value as DuckDB prints it (null stays null).</summary>
    private static List<string?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string?[]>();
        while (reader.Read())
        {
            var row = new string?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            rows.Add(row);
        }
        return rows;
    }
}
