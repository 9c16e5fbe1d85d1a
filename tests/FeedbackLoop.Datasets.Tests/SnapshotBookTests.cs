using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>Review log and snapshots against a real data folder written by the dataset store.</summary>
public sealed class SnapshotBookTests : IDisposable
{
    private readonly TempFolder _folder = new("snapshots");
    private readonly string _root;

    public SnapshotBookTests() => _root = _folder.Combine("data");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_snapshot_names_every_file_with_rows_and_hash_and_taking_it_again_unchanged_returns_the_same_one()
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());
        var book = new SnapshotBook(_root);

        var first = await book.TakeAsync(Samples.Shop, "first", null);
        var again = await book.TakeAsync(Samples.Shop, "first", null);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(first.Manifest.CreatedAt, again.Manifest.CreatedAt);
        Assert.Equal(first.Manifest.SnapshotId, again.Manifest.SnapshotId);
        Assert.Matches("^snap-[0-9a-f]{16}$", first.Manifest.SnapshotId);
        Assert.Null(first.Manifest.Parent);
        Assert.Equal(3, first.Manifest.PreferencePairs.Rows);
        Assert.Equal(2, first.Manifest.FeedbackLabels.Rows);
        var pairFile = Assert.Single(first.Manifest.PreferencePairs.Files);
        var path = Path.Combine(DatasetPaths.Folder(_root, Samples.Shop, DatasetKinds.PreferencePairs), pairFile.Name);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))), pairFile.Sha256);
        Assert.Equal(new FileInfo(path).Length, pairFile.Bytes);
        Assert.Single(book.List(Samples.Shop));
        Assert.Equal(first.Manifest.SnapshotId, book.Get(first.Manifest.SnapshotId).SnapshotId);
    }

    [Fact]
    public async Task A_different_label_is_a_different_snapshot_whose_parent_is_the_previous_one()
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());
        var book = new SnapshotBook(_root, new StepClock());

        var a = (await book.TakeAsync(Samples.Shop, null, null)).Manifest;
        var b = (await book.TakeAsync(Samples.Shop, "release", null)).Manifest;

        Assert.NotEqual(a.SnapshotId, b.SnapshotId);
        Assert.Equal(a.SnapshotId, b.Parent);
        Assert.Equal([a.SnapshotId, b.SnapshotId], book.List().Select(m => m.SnapshotId));
    }

    [Fact]
    public async Task The_next_snapshot_applies_the_latest_decision_per_item_and_never_touches_the_source_files()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var shopPairs = output.Pairs.Where(p => p.AppId == Samples.Shop).OrderBy(p => p.PairId, StringComparer.Ordinal).ToList();
        var shopLabels = output.Labels.Where(l => l.AppId == Samples.Shop).OrderBy(l => l.LabelId, StringComparer.Ordinal).ToList();
        var sources = SourceHashes();
        var book = new SnapshotBook(_root, new StepClock());
        var before = (await book.TakeAsync(Samples.Shop, null, null)).Manifest;
        var log = new ReviewLog(_root, Samples.Shop);

        await log.DecideAsync(new ReviewRequest(shopPairs[0].PairId, ReviewActions.Approve, "ann"));
        await log.DecideAsync(new ReviewRequest(shopPairs[0].PairId, ReviewActions.Exclude, "bob", "harmful"));
        await log.DecideAsync(new ReviewRequest(shopPairs[1].PairId, ReviewActions.Swap, "ann"));
        await log.DecideAsync(new ReviewRequest(shopPairs[2].PairId, ReviewActions.Correct, "ann", Text: "Better answer."));
        await log.DecideAsync(new ReviewRequest(shopLabels[0].LabelId, ReviewActions.Flip, "ann"));
        var after = (await book.TakeAsync(Samples.Shop, null, null)).Manifest;
        var rows = await SnapshotRows.ReadAsync(book, after);

        Assert.Equal(sources, SourceHashes());
        Assert.Equal(5, after.Review.LogEntries);
        Assert.Equal(4, after.Review.Applied.Count);
        Assert.Equal(new Dictionary<string, int> { ["correct"] = 1, ["exclude"] = 1, ["flip"] = 1, ["swap"] = 1 }, after.Review.Actions);
        Assert.Equal(2, after.PreferencePairs.RowsAfterReview);
        Assert.Equal(2, after.FeedbackLabels.RowsAfterReview);
        Assert.Equal([shopPairs[1].PairId, shopPairs[2].PairId], rows.Pairs.Select(p => p.Pair.PairId));
        Assert.Equal(shopPairs[1].Rejected, rows.Pairs[0].Pair.Chosen);
        Assert.Equal("swap", rows.Pairs[0].ReviewAction);
        Assert.Equal("Better answer.", rows.Pairs[1].Pair.Chosen.Content);
        Assert.Equal(shopPairs[2].Chosen.Content, rows.Pairs[1].OriginalChosen);
        Assert.Equal(!shopLabels[0].Label, rows.Labels.Single(l => l.Label.LabelId == shopLabels[0].LabelId).Label.Label);

        var diff = SnapshotDiff.Compute(await book.ContentAsync(before), await book.ContentAsync(after));
        Assert.Empty(diff.AddedPairs);
        Assert.Empty(diff.RemovedPairs);
        Assert.Equal(4, diff.ChangedByReview.Count);
        Assert.Equal(before.SnapshotId, after.Parent);
    }

    [Fact]
    public async Task Reading_a_snapshot_whose_file_changed_since_is_refused()
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());
        var book = new SnapshotBook(_root);
        var manifest = (await book.TakeAsync(Samples.Shop, null, null)).Manifest;
        var file = Path.Combine(DatasetPaths.Folder(_root, Samples.Shop, DatasetKinds.PreferencePairs), manifest.PreferencePairs.Files[0].Name);
        await File.AppendAllTextAsync(file, "x");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotRows.ReadAsync(book, manifest));
        Assert.Contains("SHA-256 differs", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("snap-0123456789abcdef", "no snapshot snap-0123456789abcdef")]
    [InlineData("../../etc/passwd", "a snapshot id is 'snap-' and 16 hexadecimal digits")]
    [InlineData("snap-0123456789ABCDEF", "a snapshot id is 'snap-' and 16 hexadecimal digits")]
    public async Task An_unknown_or_malformed_id_says_what_to_do(string id, string message)
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());

        var error = Assert.Throws<SnapshotException>(() => new SnapshotBook(_root).Get(id));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("datasets list", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repeated_decision_adds_no_line_and_each_line_records_the_state_before_and_after()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var pair = output.Pairs.First(p => p.AppId == Samples.Shop);
        var log = new ReviewLog(_root, Samples.Shop);

        var first = await log.DecideAsync(new ReviewRequest(pair.PairId, ReviewActions.Exclude, "ann", "harmful"));
        var retry = await log.DecideAsync(new ReviewRequest(pair.PairId, ReviewActions.Exclude, "ann", "harmful"));
        var second = await log.DecideAsync(new ReviewRequest(pair.PairId, ReviewActions.Correct, "ann", Text: "Fixed."));

        Assert.True(first.Recorded);
        Assert.False(retry.Recorded);
        Assert.Equal(first.Decision, retry.Decision);
        Assert.True(second.Recorded);
        var lines = await log.ReadAsync();
        Assert.Equal(2, lines.Count);
        Assert.Equal(ReviewState.Unreviewed, lines[0].Before);
        Assert.Equal(new ReviewState(ReviewActions.Exclude, "harmful"), lines[1].Before);
        Assert.Equal(new ReviewState(ReviewActions.Correct, null, "Fixed."), lines[1].After);
        Assert.Equal(pair.Chosen.Content, lines[1].OriginalChosen);
        Assert.Equal(ReviewItemKinds.Pair, lines[1].Kind);
        Assert.Equal(2, File.ReadAllLines(log.FilePath).Length);
    }

    [Fact]
    public async Task A_torn_last_line_is_ignored_and_the_next_decision_replaces_it()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var pairs = output.Pairs.Where(p => p.AppId == Samples.Shop).ToList();
        var log = new ReviewLog(_root, Samples.Shop);
        await log.DecideAsync(new ReviewRequest(pairs[0].PairId, ReviewActions.Approve, "ann"));
        await File.AppendAllTextAsync(log.FilePath, "{\"decision_id\":\"dec-torn\",\"app_id\":\"sh");

        Assert.Single(await log.ReadAsync());
        await log.DecideAsync(new ReviewRequest(pairs[1].PairId, ReviewActions.Swap, "ann"));

        Assert.Equal([pairs[0].PairId, pairs[1].PairId], (await log.ReadAsync()).Select(d => d.Item));
        Assert.DoesNotContain("dec-torn", await File.ReadAllTextAsync(log.FilePath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_line_before_the_end_is_an_error_naming_the_line()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var log = new ReviewLog(_root, Samples.Shop);
        await log.DecideAsync(new ReviewRequest(output.Pairs[0].PairId, ReviewActions.Approve, "ann"));
        await File.WriteAllTextAsync(log.FilePath, "not json\n" + await File.ReadAllTextAsync(log.FilePath));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => log.ReadAsync());
        Assert.StartsWith("review log line 1 is not a decision", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-such-item", "approve", "the app has no preference pair or label with that id")]
    [InlineData("pair", "flip", "a pair takes one of approve, exclude, swap, correct")]
    [InlineData("label", "swap", "a label takes one of approve, exclude, flip")]
    public async Task Decisions_on_unknown_items_or_with_the_wrong_action_are_refused_and_add_nothing(string item, string action, string reason)
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var id = item switch { "pair" => output.Pairs[0].PairId, "label" => output.Labels[0].LabelId, _ => item };
        var log = new ReviewLog(_root, Samples.Shop);

        var error = await Assert.ThrowsAsync<ReviewRefusedException>(() => log.DecideAsync(new ReviewRequest(id, action, "ann")));

        Assert.Equal("Refused review decision: " + reason + ".", error.Message);
        Assert.Empty(await log.ReadAsync());
    }

    [Fact]
    public async Task Concurrent_decisions_are_all_recorded_as_whole_lines()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var pair = output.Pairs[0].PairId;
        var log = new ReviewLog(_root, Samples.Shop);

        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(() => log.DecideAsync(new ReviewRequest(pair, ReviewActions.Approve, "reviewer" + i)))));

        var lines = await log.ReadAsync();
        Assert.Equal(24, lines.Count);
        Assert.Equal(24, lines.Select(l => l.Reviewer).Distinct().Count());
        Assert.Equal(24, lines.Select(l => l.DecisionId).Distinct().Count());
    }

    [Fact]
    public async Task Review_and_snapshot_folders_are_private_like_the_datasets()
    {
        if (OperatingSystem.IsWindows()) return; // Unix permission bits only
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var log = new ReviewLog(_root, Samples.Shop);
        await log.DecideAsync(new ReviewRequest(output.Pairs[0].PairId, ReviewActions.Approve, "ann"));
        await new SnapshotBook(_root).TakeAsync(Samples.Shop, null, null);

        var folderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        Assert.Equal(folderMode, File.GetUnixFileMode(log.Folder));
        Assert.Equal(folderMode, File.GetUnixFileMode(DatasetPaths.SnapshotsFolder(_root, Samples.Shop)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(log.FilePath));
    }

    private Dictionary<string, string> SourceHashes() =>
        Directory.EnumerateFiles(Path.Combine(_root, "datasets"), "*.parquet", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>A clock that moves one second per reading, so snapshots taken in one test have distinct, ordered times.</summary>
    private sealed class StepClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now = _now.AddSeconds(1);
    }
}
