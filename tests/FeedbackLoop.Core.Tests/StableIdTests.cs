using System.Text.RegularExpressions;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

public sealed partial class StableIdTests
{
    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex ThirtyTwoLowercaseHex();

    [Theory]
    [InlineData("comparison", "a", "b")]
    [InlineData("edit", "01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0f", "g-1")]
    [InlineData("", "", "")]
    [InlineData("thumbs", "génération", "生成")]
    public void Id_is_32_lowercase_hex_characters(string signal, string chosen, string rejected)
    {
        Assert.Matches(ThirtyTwoLowercaseHex(), StableId.Pair(signal, chosen, rejected));
    }

    [Fact]
    public void Id_of_long_parts_is_32_lowercase_hex_characters()
    {
        Assert.Matches(ThirtyTwoLowercaseHex(), StableId.Of(new string('a', 4_000), "b", "c"));
    }

    [Fact]
    public void Same_parts_always_give_the_same_id()
    {
        Assert.Equal(StableId.Pair("comparison", "a", "b"), StableId.Pair("comparison", "a", "b"));
        Assert.Equal(StableId.Label("g1", "u1"), StableId.Label("g1", "u1"));
    }

    [Fact]
    public void Ids_already_written_to_datasets_never_change()
    {
        // First 128 bits of SHA-256 over the parts joined by U+001F. Changing this breaks de-duplication
        // against every dataset written before the change.
        Assert.Equal("fc214b8179eff42ba8a6e08f554f85c7", StableId.Pair(PairSignals.Comparison, "a", "b"));
        Assert.Equal("bcc77795f1568db3c7ef0e8db14220dc", StableId.Label("g1", "u1"));
        // Multi-byte UTF-8, and parts too long for the stack buffer (computed with Python's hashlib, not with this code).
        Assert.Equal("1dda887fc55da588d8c43a4d44f573b6", StableId.Of("edit", "événement-ü", "生成"));
        Assert.Equal("69ae4bc20988562fed4382ff82dfb0b7", StableId.Of("thumbs", new string('x', 600), "y"));
    }

    [Fact]
    public void Different_parts_give_different_ids()
    {
        var ids = new[]
        {
            StableId.Pair(PairSignals.Comparison, "a", "b"),
            StableId.Pair(PairSignals.Comparison, "b", "a"),
            StableId.Pair(PairSignals.Thumbs, "a", "b"),
            StableId.Pair(PairSignals.Comparison, "ab", ""),
            StableId.Pair(PairSignals.Comparison, "", "ab"),
            StableId.Label("a", "b"),
        };

        Assert.Equal(ids.Length, ids.Distinct(StringComparer.Ordinal).Count());
    }
}
