using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>The snapshot source runs use: freezing takes a reviewed snapshot, reading applies it.</summary>
public sealed class RunSnapshotTests : IDisposable
{
    private readonly TempFolder _folder = new("run-snapshots");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_frozen_run_snapshot_names_a_reviewed_snapshot_and_reads_without_excluded_pairs()
    {
        var output = Samples.Output();
        await new DatasetStore(_folder).WriteAsync(output);
        var shop = output.Pairs.Where(p => p.AppId == Samples.Shop).OrderBy(p => p.PairId, StringComparer.Ordinal).ToList();
        await new ReviewLog(_folder, Samples.Shop).DecideAsync(new ReviewRequest(shop[0].PairId, ReviewActions.Exclude, "ann", "duplicate"));
        await new ReviewLog(_folder, Samples.Shop).DecideAsync(new ReviewRequest(shop[1].PairId, ReviewActions.Swap, "ann"));
        var source = new DatasetSnapshots(_folder);

        var captured = await source.CaptureAsync(Samples.Shop);
        var frozen = await source.FreezeAsync(captured);
        var pairs = await source.ReadAsync(frozen);

        Assert.Null(captured.SnapshotId);
        Assert.Matches("^snap-[0-9a-f]{16}$", frozen.SnapshotId);
        Assert.Equal(captured.Files, frozen.Files);
        Assert.Equal(3, frozen.TotalPairs);
        Assert.Equal([shop[1].PairId, shop[2].PairId], pairs.Select(p => p.PairId));
        Assert.Equal(shop[1].Rejected, pairs[0].Chosen);
        Assert.Equal(3, (await source.ReadAsync(captured)).Count); // a bare file list is read as extracted
    }

    [Fact]
    public async Task A_run_snapshot_of_another_app_is_refused()
    {
        await new DatasetStore(_folder).WriteAsync(Samples.Output());
        var source = new DatasetSnapshots(_folder);
        var frozen = await source.FreezeAsync(await source.CaptureAsync(Samples.Shop));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => source.ReadAsync(frozen with { AppId = Samples.Docs }));
        Assert.Contains("is not of app docs", error.Message, StringComparison.Ordinal);
    }
}
