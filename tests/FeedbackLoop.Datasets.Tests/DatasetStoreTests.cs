using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>The store against a real folder: round trips, idempotent writes, restarts and crash leftovers.</summary>
public sealed class DatasetStoreTests : IDisposable
{
    private readonly TempFolder _folder = new("datasets");
    private readonly string _root;

    // The store's root is not created here: the store creates what it writes.
    public DatasetStoreTests() => _root = _folder.Combine("root");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Written_pairs_read_back_equal_with_timestamps_truncated_to_microseconds()
    {
        var output = Samples.Output();

        await new DatasetStore(_root).WriteAsync(output);
        var read = await DatasetReader.ReadPairsAsync(_root, Samples.Shop);

        var expected = output.Pairs.Where(p => p.AppId == Samples.Shop).OrderBy(p => p.PairId, StringComparer.Ordinal).ToList();
        var actual = read.OrderBy(p => p.PairId, StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.Prompt, a.Prompt);
            Assert.Equal(Samples.ToMicroseconds(e.CreatedAt), a.CreatedAt);
            Assert.Equal(TimeSpan.Zero, a.CreatedAt.Offset);
            Assert.Equal(e with { Prompt = a.Prompt, CreatedAt = a.CreatedAt }, a);
        }
    }

    [Fact]
    public async Task Written_labels_read_back_equal_with_timestamps_truncated_to_microseconds()
    {
        var output = Samples.Output();

        await new DatasetStore(_root).WriteAsync(output);
        var read = await DatasetReader.ReadLabelsAsync(_root, Samples.Shop);

        var expected = output.Labels.Where(l => l.AppId == Samples.Shop).OrderBy(l => l.LabelId, StringComparer.Ordinal).ToList();
        var actual = read.OrderBy(l => l.LabelId, StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.Prompt, a.Prompt);
            Assert.Equal(Samples.ToMicroseconds(e.CreatedAt), a.CreatedAt);
            Assert.Equal(e with { Prompt = a.Prompt, CreatedAt = a.CreatedAt }, a);
        }
    }

    [Fact]
    public async Task Written_engagement_windows_read_back_equal()
    {
        var output = Samples.Output();

        await new DatasetStore(_root).WriteAsync(output);
        var read = await DatasetReader.ReadEngagementAsync(_root, Samples.Shop);

        Assert.Equal(
            output.Windows.Where(w => w.AppId == Samples.Shop).OrderBy(w => w.WindowId, StringComparer.Ordinal),
            read.OrderBy(w => w.WindowId, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Each_app_gets_its_own_datasets()
    {
        var output = Samples.Output();

        var result = await new DatasetStore(_root).WriteAsync(output);

        Assert.Equal(output.Pairs.Count, result.PairsWritten);
        Assert.Equal(output.Labels.Count, result.LabelsWritten);
        Assert.Equal(output.Windows.Count, result.WindowsWritten);
        Assert.Equal(0, result.RowsAlreadyPresent);
        Assert.Equal(6, result.Files.Count); // three kinds for each of the two apps
        Assert.Equal([Samples.Docs, Samples.Shop], DatasetPaths.Apps(_root));
        var docsPair = Assert.Single(await DatasetReader.ReadPairsAsync(_root, Samples.Docs));
        Assert.Equal(output.Pairs.Single(p => p.AppId == Samples.Docs).PairId, docsPair.PairId);
        Assert.All(result.Files, file => Assert.StartsWith(Path.Combine(_root, "datasets"), file, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Writing_the_same_output_twice_adds_no_rows_and_no_files()
    {
        var output = Samples.Output();
        var store = new DatasetStore(_root);
        await store.WriteAsync(output);
        var filesBefore = AllFiles();

        var again = await store.WriteAsync(output);

        Assert.Equal((0, 0, 0, Samples.RowCount(output)), (again.PairsWritten, again.LabelsWritten, again.WindowsWritten, again.RowsAlreadyPresent));
        Assert.Empty(again.PairsByApp);
        Assert.Empty(again.Files);
        Assert.Equal(filesBefore, AllFiles());
        await AssertEachRowOnce(output);
    }

    [Fact]
    public async Task A_restarted_store_skips_the_ids_already_on_disk()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var filesBefore = AllFiles();

        var afterRestart = await new DatasetStore(_root).WriteAsync(output);

        Assert.Equal((0, 0, 0), (afterRestart.PairsWritten, afterRestart.LabelsWritten, afterRestart.WindowsWritten));
        Assert.Equal(Samples.RowCount(output), afterRestart.RowsAlreadyPresent);
        Assert.Empty(afterRestart.Files);
        Assert.Equal(filesBefore, AllFiles());
        await AssertEachRowOnce(output);
    }

    [Fact]
    public async Task Ids_in_another_form_than_the_stable_ids_are_told_apart_character_by_character_before_and_after_a_restart()
    {
        // The store keeps stable ids (32 lowercase hex digits) as numbers; an id of any other form must still be its own,
        // whether it meets the other in the same store or after a restart.
        var lower = StableId.Pair(PairSignals.Comparison, "g1", "g1-rejected");
        var pair = Samples.Pair(Samples.Shop, "g1", SessionStart);
        ExtractionOutput Rows(params string[] ids)
        {
            var output = new ExtractionOutput();
            foreach (var id in ids) output.Pairs.Add(pair with { PairId = id });
            return output;
        }
        var others = new[] { lower.ToUpperInvariant(), lower[..31], lower + "0", "X" };

        var first = await new DatasetStore(_root).WriteAsync(Rows(lower, "x"));
        var second = await new DatasetStore(_root).WriteAsync(Rows([lower, .. others]));
        var store = new DatasetStore(_root);
        var third = await store.WriteAsync(Rows([lower, "x", .. others]));
        var fourth = await store.WriteAsync(Rows([lower, "x", .. others]));

        Assert.Equal((2, 0), (first.PairsWritten, first.RowsAlreadyPresent));
        Assert.Equal((4, 1), (second.PairsWritten, second.RowsAlreadyPresent));
        Assert.Equal((0, 6), (third.PairsWritten, third.RowsAlreadyPresent));
        Assert.Equal((0, 6), (fourth.PairsWritten, fourth.RowsAlreadyPresent));
        var ids = (await DatasetReader.ReadPairsAsync(_root, Samples.Shop)).Select(p => p.PairId).Order(StringComparer.Ordinal);
        Assert.Equal(others.Append(lower).Append("x").Order(StringComparer.Ordinal), ids);
    }

    [Fact]
    public async Task A_write_that_overlaps_an_earlier_one_adds_only_the_new_rows()
    {
        var first = Samples.Output();
        await new DatasetStore(_root).WriteAsync(first);

        var second = Samples.Output();
        var extra = Samples.Pair(Samples.Shop, "extra", SessionStart);
        second.Pairs.Add(extra);
        var result = await new DatasetStore(_root).WriteAsync(second);

        Assert.Equal(1, result.PairsWritten);
        Assert.Equal(Samples.RowCount(first), result.RowsAlreadyPresent);
        Assert.Single(result.Files);
        var pairs = await DatasetReader.ReadPairsAsync(_root, Samples.Shop);
        Assert.Equal(first.Pairs.Count(p => p.AppId == Samples.Shop) + 1, pairs.Count);
        Assert.Single(pairs, p => p.PairId == extra.PairId);
    }

    [Fact]
    public async Task Rows_repeated_within_one_write_are_written_once()
    {
        var output = new ExtractionOutput();
        var pair = Samples.Pair(Samples.Shop, "a", SessionStart);
        output.Pairs.Add(pair);
        output.Pairs.Add(pair);

        var result = await new DatasetStore(_root).WriteAsync(output);

        Assert.Equal((1, 1), (result.PairsWritten, result.RowsAlreadyPresent));
        Assert.Single(await DatasetReader.ReadPairsAsync(_root, Samples.Shop));
    }

    [Fact]
    public async Task Empty_output_writes_nothing()
    {
        var result = await new DatasetStore(_root).WriteAsync(new ExtractionOutput());

        Assert.Same(ExtractionWriteResult.Empty, result);
        Assert.False(Directory.Exists(_root));
    }

    [Fact]
    public async Task Leftover_partial_file_is_ignored_by_readers_and_removed_by_the_next_store()
    {
        var output = Samples.Output();
        await new DatasetStore(_root).WriteAsync(output);
        var folder = DatasetPaths.Folder(_root, Samples.Shop, DatasetKinds.PreferencePairs);
        var committed = Directory.GetFiles(folder).Single();
        // What a crash between creating the temporary and renaming it leaves: a half-written file.
        var hidden = Path.Combine(folder, "." + Path.GetFileName(committed) + ".1a2b3c4d.partial");
        var plain = Path.Combine(folder, "part-00000000000000000000.parquet.partial");
        File.WriteAllBytes(hidden, [0x50, 0x41, 0x52, 0x31, 0x00]);
        File.WriteAllBytes(plain, [0x50, 0x41, 0x52, 0x31, 0x00]);
        // Older than the store's leftover age, so a crash's and not another instance's write in progress.
        File.SetLastWriteTimeUtc(hidden, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(plain, DateTime.UtcNow.AddHours(-2));

        Assert.Equal([committed], DatasetPaths.Files(folder));
        var beforeRestart = await DatasetReader.ReadPairsAsync(_root, Samples.Shop);
        Assert.Equal(output.Pairs.Count(p => p.AppId == Samples.Shop), beforeRestart.Count);

        var result = await new DatasetStore(_root).WriteAsync(output);

        Assert.False(File.Exists(hidden));
        Assert.False(File.Exists(plain));
        Assert.Equal(Samples.RowCount(output), result.RowsAlreadyPresent);
        Assert.Equal([committed], Directory.GetFiles(folder));
        Assert.Equal(beforeRestart.Count, (await DatasetReader.ReadPairsAsync(_root, Samples.Shop)).Count);
    }

    [Fact]
    public async Task Cancelled_write_leaves_no_file_and_the_next_write_adds_every_row()
    {
        var output = Samples.Output();
        var store = new DatasetStore(_root);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(output, cancelled.Token));

        Assert.Empty(Directory.Exists(_root) ? AllFiles() : []);
        var result = await store.WriteAsync(output);
        Assert.Equal(Samples.RowCount(output), result.PairsWritten + result.LabelsWritten + result.WindowsWritten);
        await AssertEachRowOnce(output);
    }

    [Fact]
    public async Task A_write_that_fails_for_one_dataset_keeps_the_files_before_it_and_the_next_write_adds_the_rest_once()
    {
        // The engagement file comes last; the pairs and labels files before it are durable when it fails.
        var output = Samples.Output();
        var store = new DatasetStore(_root);
        var blocked = DatasetPaths.Folder(_root, Samples.Shop, DatasetKinds.Engagement);
        Directory.CreateDirectory(Path.GetDirectoryName(blocked)!);
        await File.WriteAllTextAsync(blocked, "a file where the engagement folder belongs");

        await Assert.ThrowsAnyAsync<IOException>(() => store.WriteAsync(output));

        File.Delete(blocked);
        var result = await store.WriteAsync(output);
        Assert.Equal((0, 0, output.Windows.Count, output.Pairs.Count + output.Labels.Count),
            (result.PairsWritten, result.LabelsWritten, result.WindowsWritten, result.RowsAlreadyPresent));
        await AssertEachRowOnce(output);
    }

    public static TheoryData<string[]> FileNameIds => new()
    {
        { [StableId.Of("file", "name", "a"), StableId.Of("file", "name", "b")] },
        { ["x", "ünïcödé-ид-🙂", ""] },
        // More than one 64 KiB chunk of ids, and one id longer than a chunk on its own.
        { Enumerable.Range(0, 3_000).Select(i => StableId.Of("file", "name", i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray() },
        { ["before", new string('é', 40_000), "after"] },
    };

    [Theory]
    [MemberData(nameof(FileNameIds))]
    public void A_file_name_is_the_first_ten_bytes_of_sha256_over_each_id_and_a_newline(string[] ids)
    {
        // Names must not change between versions: a replay after an upgrade must replace the file it wrote before.
        var expected = "part-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(string.Concat(ids.Select(id => id + "\n"))))[..10]) + ".parquet";

        Assert.Equal(expected, DatasetStore.FileName(ids));
    }

    [Fact]
    public async Task Reading_an_app_without_datasets_gives_no_rows()
    {
        Assert.Empty(await DatasetReader.ReadPairsAsync(_root, "nobody"));
        Assert.Empty(await DatasetReader.ReadLabelsAsync(_root, "nobody"));
        Assert.Empty(await DatasetReader.ReadEngagementAsync(_root, "nobody"));
    }

    [Fact]
    public async Task Dataset_folders_are_created_without_world_permissions()
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());

        if (OperatingSystem.IsWindows()) return; // Unix permission bits only
        foreach (var kind in new[] { DatasetKinds.PreferencePairs, DatasetKinds.FeedbackLabels, DatasetKinds.Engagement })
        {
            var mode = File.GetUnixFileMode(DatasetPaths.Folder(_root, Samples.Shop, kind));
            Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute));
            Assert.True(mode.HasFlag(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        }
    }

    private static DateTimeOffset SessionStart => Samples.Start;

    private string[] AllFiles() =>
        Directory.GetFiles(_root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_store_skips_rows_another_store_on_the_same_folder_wrote_after_it_had_read_the_folder()
    {
        // Two extractor instances: each has read the (empty) datasets before the other writes.
        var first = new DatasetStore(_root);
        var second = new DatasetStore(_root);
        var warmUp = Samples.Output();
        var unrelated = new ExtractionOutput();
        unrelated.Pairs.AddRange(warmUp.Pairs.Take(1));
        unrelated.Labels.AddRange(warmUp.Labels.Take(1));
        unrelated.Windows.AddRange(warmUp.Windows.Take(1));
        await second.WriteAsync(unrelated);
        var output = Samples.Output();

        var written = await first.WriteAsync(output);
        var filesBefore = AllFiles();
        var again = await second.WriteAsync(Samples.Output());

        Assert.Equal(Samples.RowCount(unrelated), written.RowsAlreadyPresent);
        Assert.Equal(Samples.RowCount(output), again.RowsAlreadyPresent);
        Assert.Empty(again.Files);
        Assert.Equal(filesBefore, AllFiles());
        await AssertEachRowOnce(output);
    }

    [Fact]
    public async Task A_young_partial_file_is_left_alone_because_another_instance_may_be_writing_it()
    {
        var folder = DatasetPaths.Folder(_root, Samples.Shop, DatasetKinds.PreferencePairs);
        Directory.CreateDirectory(folder);
        var inFlight = Path.Combine(folder, ".part-00000000000000000000.parquet.1a2b3c4d.partial");
        File.WriteAllBytes(inFlight, [0x50, 0x41, 0x52, 0x31]);

        await new DatasetStore(_root).WriteAsync(Samples.Output());

        Assert.True(File.Exists(inFlight));
    }

    [Fact]
    public void Engagement_totals_sum_the_partition_rows_of_each_window()
    {
        var minute = new DateTimeOffset(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);
        EngagementWindow Row(int partition, string model, long shown, long dwell, DateTimeOffset start) => new(
            StableId.Of("engagement", Samples.Shop, $"{model}|{start.Ticks}|{partition}"), Samples.Shop, model, "", start, start.AddMinutes(1),
            shown, 1, 0, 0, 0, 0, 0, 0, 0, 0, dwell, dwell > 0 ? 10.0 : null, null, null, partition);

        var totals = EngagementTotal.Of([Row(0, "m1", 2, 1, minute), Row(3, "m1", 5, 0, minute), Row(1, "m2", 7, 2, minute), Row(0, "m1", 1, 0, minute.AddMinutes(1))]);

        Assert.Equal(
            [("m1", minute, 7L, 2L, 1L, 2), ("m1", minute.AddMinutes(1), 1L, 1L, 0L, 1), ("m2", minute, 7L, 1L, 2L, 1)],
            totals.Select(t => (t.ModelVersion, t.WindowStart, t.Shown, t.ThumbsUp, t.DwellSamples, t.Partitions)).ToArray());
    }

    private async Task AssertEachRowOnce(ExtractionOutput output)
    {
        foreach (var app in new[] { Samples.Shop, Samples.Docs })
        {
            var pairs = await DatasetReader.ReadPairsAsync(_root, app);
            var labels = await DatasetReader.ReadLabelsAsync(_root, app);
            var windows = await DatasetReader.ReadEngagementAsync(_root, app);
            Assert.Equal(output.Pairs.Where(p => p.AppId == app).Select(p => p.PairId).Order(StringComparer.Ordinal), pairs.Select(p => p.PairId).Order(StringComparer.Ordinal));
            Assert.Equal(output.Labels.Where(l => l.AppId == app).Select(l => l.LabelId).Order(StringComparer.Ordinal), labels.Select(l => l.LabelId).Order(StringComparer.Ordinal));
            Assert.Equal(output.Windows.Where(w => w.AppId == app).Select(w => w.WindowId).Order(StringComparer.Ordinal), windows.Select(w => w.WindowId).Order(StringComparer.Ordinal));
        }
    }
}
