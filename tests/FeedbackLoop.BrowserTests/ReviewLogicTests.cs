using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Review.Accounts;
using FeedbackLoop.Review.Queue;

namespace FeedbackLoop.BrowserTests;

/// <summary>The review app's pure decisions (diff, queue order, filter) as tables, and its accounts file on a real disk.</summary>
public sealed class ReviewLogicTests : IDisposable
{
    private static readonly DateTimeOffset At = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new("review-logic");

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("a b c", "a b c", "=a b c")]
    [InlineData("a b c", "a x c", "=a|-b|+x|=c")]
    [InlineData("Madrid, I think.", "Madrid.", "-Madrid, I think.|+Madrid.")]
    [InlineData("one two", "one two three", "=one two|+three")]
    [InlineData("", "new text", "+new text")]
    [InlineData("<b>x</b> y", "<b>x</b>", "=<b>x</b>|-y")]
    public void A_word_diff_keeps_common_words_and_marks_removed_and_added_runs(string before, string after, string expected)
    {
        var parts = WordDiff.Of(before, after)!;
        Assert.Equal(expected, string.Join('|', parts.Select(p => (p.Kind switch { DiffKind.Same => "=", DiffKind.Removed => "-", _ => "+" }) + p.Text)));
    }

    [Fact]
    public void Texts_above_the_word_limit_are_not_diffed()
    {
        var big = string.Join(' ', Enumerable.Repeat("w", WordDiff.MaxWords + 1));
        Assert.Null(WordDiff.Of(big, "w"));
        Assert.NotNull(WordDiff.Of(string.Join(' ', Enumerable.Repeat("w", WordDiff.MaxWords)), "w"));
    }

    [Theory]
    [InlineData(QueueSampling.Random, null, true, 4)]
    [InlineData(QueueSampling.Random, null, false, 5)]
    [InlineData(QueueSampling.BySignal, PairSignals.Edit, false, 2)]
    [InlineData(QueueSampling.BySignal, PairSignals.Edit, true, 1)]
    [InlineData(QueueSampling.BySignal, PairSignals.Thumbs, false, 0)]
    public void The_queue_holds_the_sampled_pairs_and_to_review_leaves_out_decided_ones(string sampling, string? signal, bool toReview, int expected)
    {
        var data = Data(out _);
        Assert.Equal(expected, QueueOrder.Of(data, sampling, 1, signal, toReview).Count);
    }

    [Fact]
    public void A_random_queue_is_the_same_order_for_a_seed_and_another_for_another_seed_and_by_signal_is_oldest_first()
    {
        var data = Data(out var pairs);
        var seeded = Ids(QueueOrder.Of(data, QueueSampling.Random, 1, null, false));
        Assert.Equal(seeded, Ids(QueueOrder.Of(data, QueueSampling.Random, 1, null, false)));
        Assert.Equal(pairs.Select(p => p.PairId).Order(StringComparer.Ordinal), seeded.Order(StringComparer.Ordinal));
        Assert.Contains(Enumerable.Range(2, 20), seed => !Ids(QueueOrder.Of(data, QueueSampling.Random, seed, null, false)).SequenceEqual(seeded));
        var edits = QueueOrder.Of(data, QueueSampling.BySignal, 1, PairSignals.Edit, false);
        Assert.True(edits[0].CreatedAt < edits[1].CreatedAt);
    }

    [Theory]
    [InlineData(null, null, null, null, null, null, null, null, null, null, null, null)]
    [InlineData("", "", "", "", "", "", null, null, null, null, null, null)]
    [InlineData(PairSignals.Edit, "model-b", null, null, null, ReviewActions.Exclude, PairSignals.Edit, "model-b", null, null, null, ReviewActions.Exclude)]
    [InlineData(null, null, "2026-11-02", "2026-11-03T12:00:00Z", null, null, null, null, "2026-11-02T00:00:00Z", "2026-11-03T12:00:00Z", null, null)]
    [InlineData(null, null, "yesterday", "2026-13-45", null, null, null, null, null, null, null, null)]
    [InlineData(null, null, null, null, "ANSWER 3", ReviewActions.None, null, null, null, null, "ANSWER 3", ReviewActions.None)]
    public void The_list_form_reads_as_the_query_filter_with_empty_or_unparsable_fields_matching_everything(
        string? signal, string? model, string? from, string? to, string? text, string? state,
        string? qSignal, string? qModel, string? qFrom, string? qTo, string? qText, string? qState)
    {
        var expected = new ReviewFilter(qSignal, qModel, qFrom is null ? null : DateTimeOffset.Parse(qFrom, System.Globalization.CultureInfo.InvariantCulture),
            qTo is null ? null : DateTimeOffset.Parse(qTo, System.Globalization.CultureInfo.InvariantCulture), qText, qState);

        Assert.Equal(expected, PairFilter.FromForm(signal, model, from, to, text, state));
    }

    [Fact]
    public void A_searched_text_is_cut_to_the_longest_the_form_takes()
    {
        var filter = PairFilter.FromForm(null, null, null, null, new string('x', PairFilter.MaxTextLength + 50), null);

        Assert.Equal(new string('x', PairFilter.MaxTextLength), filter.Text);
    }

    [Fact]
    public void A_reviewer_token_signs_in_only_its_own_name_is_stored_hashed_owner_only_and_dies_with_the_account()
    {
        var file = new ReviewerFile(_folder.Combine("review", "reviewers.json"));
        var (ann, token) = file.Add("ann", At);
        var (_, bobToken) = file.Add("bob", At);

        Assert.Equal(ann, file.SignIn("ann", token));
        Assert.Null(file.SignIn("bob", token));
        Assert.Null(file.SignIn("ann", bobToken));
        Assert.Null(file.SignIn("ann", token[..^1] + (token[^1] == 'A' ? 'B' : 'A')));
        Assert.Null(file.SignIn("ann", "flk_" + token[4..])); // a write key's prefix is not a reviewer token
        Assert.DoesNotContain(token, File.ReadAllText(file.Path), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file.Path));
        Assert.Throws<ArgumentException>(() => file.Add("ann", At));
        Assert.Throws<ArgumentException>(() => file.Add("Ann Smith", At));

        file.Remove("ann");

        Assert.Null(file.SignIn("ann", token));
        Assert.False(file.StillHas("ann", ann.TokenId));
        Assert.Equal(["bob"], file.Read().Select(r => r.Name));
        Assert.Throws<ArgumentException>(() => file.Remove("ann"));
    }

    private static AppPairs Data(out IReadOnlyList<PreferencePair> pairs)
    {
        pairs =
        [
            Pair("p0", PairSignals.Comparison, At, "model-a"),
            Pair("p1", PairSignals.Edit, At.AddHours(3), "user-edit"),
            Pair("p2", PairSignals.Comparison, At.AddHours(1), "model-a"),
            Pair("p3", PairSignals.Edit, At.AddHours(2), "user-edit"),
            Pair("p4", PairSignals.Regenerate, At.AddHours(4), "model-a"),
        ];
        var decision = new ReviewDecision("dec-1", "shop", "p3", ReviewItemKinds.Pair, ReviewActions.Exclude, "duplicate", null, "ann", At, ReviewState.Unreviewed, null);
        return new AppPairs(pairs, ReviewRules.Latest([decision]), [decision]);
    }

    private static PreferencePair Pair(string id, string signal, DateTimeOffset at, string chosenVersion) => new(
        id, "shop", [new ConversationTurn("user", "Prompt of " + id)], new ConversationTurn("assistant", "Answer " + id[1..]), new ConversationTurn("assistant", "Other"),
        signal, 1.0, "g-" + id, "r-" + id, chosenVersion, "model-b", "s", "u", at);

    private static string[] Ids(IReadOnlyList<PreferencePair> pairs) => [.. pairs.Select(p => p.PairId)];
}
