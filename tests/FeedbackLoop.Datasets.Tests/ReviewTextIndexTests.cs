using System.Text;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// The review list's text index as tables: which rows a needle finds (never across two texts or two rows, each row once,
/// multi-byte text, rows split over several arrays), checked against a plain <c>Contains</c> of each text; and how row
/// numbers are cut into ranges for fetching.
/// </summary>
public sealed class ReviewTextIndexTests
{
    private static readonly string[][] Rows =
    [
        ["you are helpful.\nwhere is my parcel?", "it ships tomorrow.", "no idea."],
        ["refund please", "refund refund refund", "refund"],
        ["ends with re", "fund starts here", ""],
        ["", "", ""],
        ["grüße aus köln", "straße", "ÉTÉ".ToLowerInvariant()],
        ["a\nb", "ab", "b\na"],
        ["100% sure_thing", "x", "y"],
    ];

    public static TheoryData<string, int> Needles() => new()
    {
        { "refund", 16 },
        { "refund", 1 << 20 },
        { "re", 16 },
        { "e\nfund", 16 },       // the end of one text and the start of the next never match together
        { "refundfund", 16 },
        { "köln", 16 },
        { "straße", 8 },
        { "été", 16 },
        { "a\nb", 16 },
        { "\n", 16 },
        { "% sure_", 16 },
        { "parcel?it", 16 },    // across the prompt and the chosen text: no match
        { "no idea.you", 16 },  // across two rows: no match
        { "nothing like this", 16 },
    };

    [Theory]
    [MemberData(nameof(Needles))]
    public void A_needle_finds_each_row_whose_prompt_chosen_or_rejected_text_contains_it_once_in_row_order(string needle, int segmentBytes)
    {
        var index = new ReviewTextIndex(segmentBytes);
        foreach (var row in Rows) index.Add(Utf8(row[0]), Utf8(row[1]), Utf8(row[2]));

        var expected = Rows.Select((row, n) => (row, n: (long)n)).Where(r => r.row.Any(t => t.Contains(needle, StringComparison.Ordinal))).Select(r => r.n);
        Assert.Equal(expected, index.Find(needle));
        Assert.Equal(Rows.Length, index.Rows);
    }

    [Fact]
    public void Clearing_forgets_every_row_and_numbering_starts_again()
    {
        var index = new ReviewTextIndex(16);
        foreach (var row in Rows) index.Add(Utf8(row[0]), Utf8(row[1]), Utf8(row[2]));
        index.Clear();
        index.Add(Utf8("refund"), Utf8(""), Utf8(""));

        Assert.Equal([0L], index.Find("refund"));
        Assert.Equal(1, index.Rows);
    }

    public static TheoryData<long[], int, string> Cuts() => new()
    {
        { [], 10, "" },
        { [5], 10, "5" },
        { [1, 2, 3, 9], 10, "1,2,3,9" },
        { [1, 2, 11, 12, 30], 10, "1,2|11,12|30" },
        { [30, 12, 1, 11, 2], 10, "1,2|11,12|30" },
        { [0, 10, 20], 10, "0|10|20" },
    };

    [Theory]
    [MemberData(nameof(Cuts))]
    public void Row_numbers_are_cut_into_ascending_ranges_each_narrower_than_the_span(long[] rows, int span, string expected)
    {
        var ranges = ReviewTextIndex.Ranges(rows, span);

        Assert.Equal(expected, string.Join("|", ranges.Select(r => string.Join(",", r))));
        Assert.All(ranges, r => Assert.True(r[^1] - r[0] < span));
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
