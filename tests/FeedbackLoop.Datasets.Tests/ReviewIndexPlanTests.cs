using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>The review index's decisions as tables: which files a refresh reads and drops, and when new rows append.</summary>
public sealed class ReviewIndexPlanTests
{
    public static TheoryData<string, string, string, string, string> Folders() => new()
    {
        // indexed, unreadable, present ("path:length;..."), expected to read, expected gone
        { "", "", "", "", "" },
        { "", "", "a:10;b:20", "a;b", "" },
        { "a:10", "", "a:10;b:20", "b", "" },
        { "a:10;b:20", "", "a:10;b:20", "", "" },
        { "a:10;b:20", "", "a:10", "", "b" },
        { "a:10", "", "a:11", "a", "a" },
        { "a:10", "b:5", "a:10;b:5", "", "" },
        { "a:10", "b:5", "a:10;b:6", "b", "" },
        { "a:10", "b:5", "a:10", "", "" },
    };

    [Theory]
    [MemberData(nameof(Folders))]
    public void A_refresh_reads_new_and_changed_files_drops_gone_ones_and_retries_an_unreadable_file_only_once_it_changed(
        string indexed, string unreadable, string present, string toRead, string gone)
    {
        var change = ReviewIndexPlan.Compare(Lengths(indexed), Lengths(unreadable), [.. Lengths(present).Select(kv => new DatasetFile(kv.Key, kv.Value))]);

        Assert.Equal(Names(toRead), change.ToRead.Select(f => f.Path));
        Assert.Equal(Names(gone), change.Gone);
    }

    public static TheoryData<bool, long?, string?, long?, string?, ReviewIndexStep> Steps() => new()
    {
        { false, null, null, null, null, ReviewIndexStep.Nothing },
        { false, 100, "b", null, null, ReviewIndexStep.Nothing },
        { false, null, null, 5, "a", ReviewIndexStep.Append },
        { false, 100, "b", 101, "a", ReviewIndexStep.Append },
        { false, 100, "b", 100, "c", ReviewIndexStep.Append },
        { false, 100, "b", 100, "b", ReviewIndexStep.Rebuild },
        { false, 100, "b", 100, "a", ReviewIndexStep.Rebuild },
        { false, 100, "b", 99, "z", ReviewIndexStep.Rebuild },
        { true, 100, "b", null, null, ReviewIndexStep.Rebuild },
        { true, 100, "b", 101, "a", ReviewIndexStep.Rebuild },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public void New_rows_append_only_when_the_first_sorts_strictly_after_the_last_indexed_row_and_nothing_went_away(
        bool anyGone, long? lastMicros, string? lastId, long? firstMicros, string? firstId, ReviewIndexStep expected)
    {
        var last = lastMicros is { } lm ? (lm, lastId!) : ((long, string)?)null;
        var first = firstMicros is { } fm ? (fm, firstId!) : ((long, string)?)null;

        Assert.Equal(expected, ReviewIndexPlan.Step(anyGone, last, first));
    }

    private static Dictionary<string, long> Lengths(string spec) =>
        spec.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split(':'))
            .ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private static string[] Names(string spec) => spec.Split(';', StringSplitOptions.RemoveEmptyEntries);
}
