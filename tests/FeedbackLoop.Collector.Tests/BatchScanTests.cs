using System.Text;

namespace FeedbackLoop.Collector.Tests;

/// <summary>
/// The collector's quick scan of a batch (<see cref="BatchSplitter.TryScan"/>) against the JSON reader's exact split
/// (<see cref="BatchSplitter.Split"/>): on a sound array both cut the same elements; on anything unusual the scan gives up,
/// so the reader's refusal is the one that answers.
/// </summary>
public sealed class BatchScanTests
{
    private static readonly CollectorOptions Options = new() { BootstrapServers = "b", KeysFile = "k", MaxEvents = 3, MaxEventBytes = 64, MaxJsonDepth = 4 };

    [Theory]
    [InlineData("[{}]")]
    [InlineData(" \r\n\t[ {\"a\":1} , {\"b\":[1,2,{\"c\":\"]}\"}]} ]\n")]
    [InlineData("[{\"s\":\"a \\\" quote, a \\\\ backslash and } ] , brackets\"},{}]")]
    [InlineData("[1, \"two\", null]")]
    [InlineData("[\"\\\\\"]")]
    [InlineData("[[1,[2,[3]]]]")] // depth 4, the bound
    [InlineData("[-1.5e3,true,false]")]
    public void A_sound_array_is_cut_as_the_reader_cuts_it(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);

        var scanned = BatchSplitter.TryScan(body, Options);
        var (exact, refusal) = BatchSplitter.Split(body, Options);

        Assert.Null(refusal);
        Assert.NotNull(scanned);
        Assert.Equal(exact!, scanned);
    }

    [Theory]
    [InlineData("", "not_json")]
    [InlineData("{}", "not_array")]
    [InlineData("[]", "empty_batch")]
    [InlineData("[{},]", "not_json")]
    [InlineData("[,{}]", "not_json")]
    [InlineData("[{},,{}]", "not_json")]
    [InlineData("[{} {}]", "not_json")]
    [InlineData("[{}", "not_json")]
    [InlineData("[{\"a\":\"open string}]", "not_json")]
    [InlineData("[{}] []", "not_json")]
    [InlineData("[{}]x", "not_json")]
    [InlineData("[{},{},{},{}]", "too_many_events")]
    [InlineData("[[1,[2,[3,[4,[5]]]]]]", "too_deep")]
    [InlineData("[\"0123456789012345678901234567890123456789012345678901234567890123456789\"]", "event_too_large")]
    public void The_scan_gives_up_where_the_reader_refuses(string json, string expected)
    {
        var body = Encoding.UTF8.GetBytes(json);

        var scanned = BatchSplitter.TryScan(body, Options);
        var (_, refusal) = BatchSplitter.Split(body, Options);

        Assert.Null(scanned);
        Assert.Equal(expected, refusal);
    }

    [Theory]
    [InlineData("[{]]")] // mismatched brackets: the element is not JSON, which the event parser finds
    [InlineData("[{\"a\":tru}]")]
    [InlineData("[1}]")]
    public void A_bad_element_inside_a_sound_outline_is_cut_and_left_to_the_event_parser(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);

        var scanned = BatchSplitter.TryScan(body, Options);
        var (_, refusal) = BatchSplitter.Split(body, Options);

        // The parser refuses the element, and any refused element makes the endpoint ask the reader, which refuses the body.
        Assert.NotNull(scanned);
        Assert.Equal("not_json", refusal);
    }
}
