using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// The review list's query component against a brute-force reading of the same files: real Parquet files the dataset
/// store wrote (three commits, so three files), a real review log, and every filter of the table compared row for row,
/// walked page by page through the keyset cursor.
/// </summary>
public sealed class ReviewQueryTests : IAsyncLifetime, IDisposable
{
    private const string App = "shop";
    private static readonly DateTimeOffset Start = new(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly string[] Signals = [PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate, PairSignals.Thumbs];
    private readonly TempFolder _root = new("review-query");
    private readonly List<PreferencePair> _pairs = [];
    private readonly Dictionary<string, string> _latest = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        for (var batch = 0; batch < 3; batch++)
        {
            var output = new ExtractionOutput();
            for (var i = 0; i < 70; i++)
            {
                var n = batch * 70 + i;
                // Some pairs share a timestamp, so paging must break ties by id.
                var at = Start.AddMinutes(n / 3).AddTicks(n % 3 == 2 ? 0 : 10 * n);
                var word = n % 11 == 0 ? "Refund" : n % 7 == 0 ? "100% sure_thing" : "shipping";
                output.Pairs.Add(new PreferencePair(
                    StableId.Pair(Signals[n % 4], $"c{n}", $"r{n}"), App, [new ConversationTurn("user", $"Question {n} about {word}?")],
                    new ConversationTurn("assistant", $"Answer {n}"), new ConversationTurn("assistant", n % 5 == 0 ? $"Other {word.ToUpperInvariant()}" : $"Other {n}"),
                    Signals[n % 4], 1.0 + (n % 3), $"c{n}", $"r{n}", $"m{n % 3}", $"m{(n + 1) % 3}", $"s{n}", "u1", at));
            }

            await new DatasetStore(_root).WriteAsync(output);
            _pairs.AddRange(output.Pairs);
        }

        var log = new ReviewLog(_root, App);
        for (var n = 0; n < _pairs.Count; n += 4)
        {
            var action = n % 3 == 0 ? ReviewActions.Exclude : ReviewActions.Approve;
            await log.DecideAsync(new ReviewRequest(_pairs[n].PairId, action, "ann", action == ReviewActions.Exclude ? "low-quality" : null));
            _latest[_pairs[n].PairId] = action;
        }

        // A later decision by another reviewer is the one in force.
        await log.DecideAsync(new ReviewRequest(_pairs[0].PairId, ReviewActions.Swap, "bob"));
        _latest[_pairs[0].PairId] = ReviewActions.Swap;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _root.Dispose();

    public static TheoryData<string> Filters() => [.. Table.Keys];

    private static readonly Dictionary<string, ReviewFilter> Table = new()
    {
        ["everything"] = new ReviewFilter(),
        ["one signal"] = new ReviewFilter(Signal: PairSignals.Edit),
        ["a signal nobody has"] = new ReviewFilter(Signal: "nope"),
        ["a model version on either side"] = new ReviewFilter(ModelVersion: "m1"),
        ["a time range"] = new ReviewFilter(From: Start.AddMinutes(10), To: Start.AddMinutes(30)),
        ["from only"] = new ReviewFilter(From: Start.AddMinutes(60)),
        ["text in the prompt or rejected, any case"] = new ReviewFilter(Text: "refund"),
        ["text with % and _ taken literally"] = new ReviewFilter(Text: "100% sure_"),
        ["% alone matches only a literal %"] = new ReviewFilter(Text: "%"),
        ["unreviewed"] = new ReviewFilter(ReviewAction: ReviewActions.None),
        ["excluded"] = new ReviewFilter(ReviewAction: ReviewActions.Exclude),
        ["the latest decision wins"] = new ReviewFilter(ReviewAction: ReviewActions.Swap),
        ["everything at once"] = new ReviewFilter(Signal: PairSignals.Comparison, ModelVersion: "m0", From: Start, To: Start.AddHours(2), Text: "question", ReviewAction: ReviewActions.None),
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public async Task Every_page_and_count_equals_a_brute_force_reading_of_the_files(string name)
    {
        var filter = Table[name];
        var expected = BruteForce(filter);
        using var query = await ReviewQuery.OpenAsync(_root, App);

        var seen = new List<ReviewRow>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = query.List(filter, 7, cursor);
            Assert.True(page.Rows.Count <= 7);
            seen.AddRange(page.Rows);
            cursor = page.Next;
            Assert.True(++pages <= _pairs.Count, "paging did not end");
        }
        while (cursor is not null);

        Assert.Equal(expected.Select(e => (e.PairId, e.Action)), seen.Select(r => (r.PairId, r.ReviewAction)));
        Assert.Equal(expected.Count, query.Count(filter));
        Assert.Equal(
            expected.GroupBy(e => e.Signal).ToDictionary(g => g.Key, g => (long)g.Count()).OrderBy(kv => kv.Key, StringComparer.Ordinal),
            query.CountBySignal(filter).OrderBy(kv => kv.Key, StringComparer.Ordinal));
        if (name == "everything") Assert.Equal(_pairs.Count, seen.Count);

        // A jump to page 3 starts where following the cursors got to.
        var third = query.JumpTo(filter, 7, 14);
        Assert.Equal(expected.Skip(14).Take(7).Select(e => e.PairId), third.Rows.Select(r => r.PairId));
        Assert.Equal(expected.Count > 21, third.Next is not null);

        // Newest first is the same rows backwards, by cursor and by jump.
        var newest = new List<ReviewRow>();
        cursor = null;
        do
        {
            var page = query.List(filter, 5, cursor, ReviewOrder.NewestFirst);
            newest.AddRange(page.Rows);
            cursor = page.Next;
        }
        while (cursor is not null);

        var backwards = expected.AsEnumerable().Reverse().ToList();
        Assert.Equal(backwards.Select(e => e.PairId), newest.Select(r => r.PairId));
        Assert.Equal(backwards.Skip(10).Take(5).Select(e => e.PairId), query.JumpTo(filter, 5, 10, ReviewOrder.NewestFirst).Rows.Select(r => r.PairId));
        Assert.Empty(query.JumpTo(filter, 5, expected.Count, ReviewOrder.NewestFirst).Rows);

        // The list page's one call: the count, and the page asked for, or the last one when it asks past the end.
        var pageCount = Math.Max(1, (expected.Count + 4) / 5);
        var listing = query.Listing(filter, 5, 3, ReviewOrder.NewestFirst);
        Assert.Equal((expected.Count, pageCount, Math.Min(3, pageCount)), (listing.Matching, listing.Pages, listing.PageNumber));
        Assert.Equal(backwards.Skip((listing.PageNumber - 1) * 5).Take(5).Select(e => e.PairId), listing.Page.Rows.Select(r => r.PairId));
        var past = query.Listing(filter, 5, 1_000_000, ReviewOrder.NewestFirst);
        Assert.Equal(pageCount, past.PageNumber);
        Assert.Equal(backwards.Skip((pageCount - 1) * 5).Take(5).Select(e => e.PairId), past.Page.Rows.Select(r => r.PairId));
    }

    [Fact]
    public async Task A_row_carries_the_pair_as_written()
    {
        using var query = await ReviewQuery.OpenAsync(_root, App);
        var first = _pairs.OrderBy(p => Micros(p.CreatedAt)).ThenBy(p => p.PairId, StringComparer.Ordinal).First();

        var row = query.List(new ReviewFilter(), 1).Rows[0];

        Assert.Equal(new ReviewRow(first.PairId, first.Signal, first.Weight, first.ChosenModelVersion, first.RejectedModelVersion,
            new DateTimeOffset(first.CreatedAt.UtcTicks - (first.CreatedAt.UtcTicks % 10), TimeSpan.Zero), first.Prompt[0].Content, first.Chosen.Content,
            first.Rejected.Content, _latest.GetValueOrDefault(first.PairId, ReviewActions.None),
            _latest.GetValueOrDefault(first.PairId) == ReviewActions.Exclude ? "low-quality" : null, first.Prompt[^1].Content), row);
    }

    [Fact]
    public async Task An_app_without_pairs_lists_nothing_and_a_foreign_cursor_is_refused()
    {
        using (var empty = await ReviewQuery.OpenAsync(_root, "other"))
        {
            Assert.Equal((0L, 0, (string?)null), (empty.Count(new ReviewFilter()), empty.List(new ReviewFilter(), 10).Rows.Count, empty.List(new ReviewFilter(), 10).Next));
        }

        using var query = await ReviewQuery.OpenAsync(_root, App);
        Assert.Throws<ArgumentException>(() => query.List(new ReviewFilter(), 10, "page-2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => query.List(new ReviewFilter(), ReviewQuery.MaxPageSize + 1));
    }

    [Fact]
    public async Task Files_and_decisions_that_arrive_after_opening_show_after_a_refresh()
    {
        using var query = await ReviewQuery.OpenAsync(_root, App);
        Assert.Equal(_pairs.Count, query.Count(new ReviewFilter()));

        // A later file appends; an earlier one (a late replay) sorts in among the rows already there.
        var later = await WriteAsync(Start.AddDays(1), "later", 30);
        var refresh = await query.RefreshAsync();
        Assert.Equal((1, ReviewIndexStep.Append), (refresh.Read.Count, refresh.Step));
        var earlier = await WriteAsync(Start.AddDays(-1), "earlier", 20);
        refresh = await query.RefreshAsync();
        Assert.Equal((1, ReviewIndexStep.Rebuild), (refresh.Read.Count, refresh.Step));
        Assert.Equal(ReviewIndexStep.Nothing, (await query.RefreshAsync()).Step);

        var all = _pairs.Concat(later).Concat(earlier).OrderBy(p => Micros(p.CreatedAt)).ThenBy(p => p.PairId, StringComparer.Ordinal).Select(p => p.PairId).ToList();
        Assert.Equal(all.Count, query.Count(new ReviewFilter()));
        Assert.Equal(all.Skip(19).Take(3), query.JumpTo(new ReviewFilter(), 3, 19).Rows.Select(r => r.PairId));
        Assert.Equal(all.AsEnumerable().Reverse().Take(4), query.List(new ReviewFilter(), 4, order: ReviewOrder.NewestFirst).Rows.Select(r => r.PairId));

        // A decision recorded after opening (by the command line, say) is in the next list.
        await new ReviewLog(_root, App).DecideAsync(new ReviewRequest(later[0].PairId, ReviewActions.Exclude, "cli", "duplicate"));
        await query.RefreshAsync();
        var excluded = query.List(new ReviewFilter(ReviewAction: ReviewActions.Exclude), ReviewQuery.MaxPageSize).Rows;
        Assert.Contains(excluded, r => r.PairId == later[0].PairId && r.ReviewReason == "duplicate");
        Assert.Equal(_latest.Values.Count(a => a == ReviewActions.Exclude) + 1, query.Count(new ReviewFilter(ReviewAction: ReviewActions.Exclude)));
    }

    [Fact]
    public async Task A_file_that_cannot_be_read_is_reported_until_it_is_replaced_and_the_rest_is_listed()
    {
        var folder = DatasetPaths.Folder(_root, App, DatasetKinds.PreferencePairs);
        var broken = Path.Combine(folder, "part-zz-broken" + DatasetPaths.Extension);
        await File.WriteAllTextAsync(broken, "not parquet");

        using var query = await ReviewQuery.OpenAsync(_root, App);

        var reported = Assert.Single(query.Unreadable);
        Assert.Equal(broken, reported.Path);
        Assert.False(string.IsNullOrWhiteSpace(reported.Reason));
        Assert.Equal(_pairs.Count, query.Count(new ReviewFilter()));
        var again = await query.RefreshAsync();
        Assert.Equal((0, 1), (again.Read.Count, again.Unreadable.Count));

        // Replaced by a readable file under the same name: read, listed, no longer reported.
        var good = Directory.GetFiles(folder, "part-*").Order(StringComparer.Ordinal).First();
        File.Copy(good, broken, overwrite: true);
        var fixedUp = await query.RefreshAsync();
        Assert.Equal([broken], fixedUp.Read);
        Assert.Empty(fixedUp.Unreadable);
        Assert.Empty(query.Unreadable);
        Assert.Equal(_pairs.Count + 70, query.Count(new ReviewFilter()));

        // A broken file that is removed again stops being reported.
        var stray = Path.Combine(folder, "part-zz-stray" + DatasetPaths.Extension);
        await File.WriteAllBytesAsync(stray, [1, 2, 3]);
        Assert.Equal(stray, Assert.Single((await query.RefreshAsync()).Unreadable).Path);
        File.Delete(stray);
        Assert.Empty((await query.RefreshAsync()).Unreadable);
        Assert.Equal(_pairs.Count + 70, query.Count(new ReviewFilter()));
    }

    private async Task<List<PreferencePair>> WriteAsync(DateTimeOffset at, string tag, int count)
    {
        var output = new ExtractionOutput();
        for (var n = 0; n < count; n++)
        {
            output.Pairs.Add(new PreferencePair(
                StableId.Pair(PairSignals.Comparison, $"{tag}-c{n}", $"{tag}-r{n}"), App, [new ConversationTurn("user", $"{tag} {n}")],
                new ConversationTurn("assistant", "yes"), new ConversationTurn("assistant", "no"), PairSignals.Comparison, 1.0, $"{tag}-c{n}", $"{tag}-r{n}",
                "m0", "m1", "s", "u1", at.AddSeconds(n)));
        }

        await new DatasetStore(_root).WriteAsync(output);
        return output.Pairs;
    }

    private List<(string PairId, string Signal, string Action)> BruteForce(ReviewFilter f) =>
    [
        .. _pairs
            .Select(p => (Pair: p, Action: _latest.GetValueOrDefault(p.PairId, ReviewActions.None)))
            .Where(x => f.Signal is null || x.Pair.Signal == f.Signal)
            .Where(x => f.ModelVersion is null || x.Pair.ChosenModelVersion == f.ModelVersion || x.Pair.RejectedModelVersion == f.ModelVersion)
            .Where(x => f.From is null || Micros(x.Pair.CreatedAt) >= Micros(f.From.Value))
            .Where(x => f.To is null || Micros(x.Pair.CreatedAt) < Micros(f.To.Value))
            .Where(x => f.ReviewAction is null || x.Action == f.ReviewAction)
            .Where(x => f.Text is null || new[] { x.Pair.Prompt[0].Content, x.Pair.Chosen.Content, x.Pair.Rejected.Content }
                .Any(t => t.Contains(f.Text, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(x => Micros(x.Pair.CreatedAt)).ThenBy(x => x.Pair.PairId, StringComparer.Ordinal)
            .Select(x => (x.Pair.PairId, x.Pair.Signal, x.Action)),
    ];

    private static long Micros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
}
