using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

public sealed class EditDistanceTests
{
    [Theory]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("sitting", "kitten", 3)]
    [InlineData("", "", 0)]
    [InlineData("", "abc", 3)]
    [InlineData("abc", "", 3)]
    [InlineData("abc", "abc", 0)]
    [InlineData("flaw", "lawn", 2)]
    [InlineData("saturday", "sunday", 3)]
    [InlineData("ab", "ba", 2)]
    [InlineData("abcdef", "azcdef", 1)]
    [InlineData("prefix-middle-suffix", "prefix-MIDDLE-suffix", 6)]
    [InlineData("aaaa", "aaaaaaaa", 4)]
    [InlineData("Seine", "Siene", 2)]
    public void Levenshtein_distance_matches_known_values(string a, string b, int expected)
    {
        Assert.Equal(expected, EditDistance.Levenshtein(a, b));
    }

    [Theory]
    [InlineData("kitten", "sitting", 3.0 / 7)]
    [InlineData("", "", 0.0)]
    [InlineData("abc", "abc", 0.0)]
    [InlineData("abc", "xyz", 1.0)]
    [InlineData("", "abcd", 1.0)]
    [InlineData("abcdefghijklmnopqrst", "Abcdefghijklmnopqrst", 0.05)]
    [InlineData("abcdefghijklmnopqrst", "ABCDEFGHIJKLMNOPqrst", 0.80)]
    public void Normalized_distance_divides_by_the_longer_length(string a, string b, double expected)
    {
        Assert.Equal(expected, EditDistance.Normalized(a, b), precision: 12);
    }

    [Fact]
    public void Long_texts_with_a_small_change_in_the_middle_are_measured_exactly()
    {
        var original = new string('x', 8_000) + "The capital is Paris." + new string('y', 8_000);
        var edited = new string('x', 8_000) + "The capital is Lyon." + new string('y', 8_000);

        Assert.Equal(EditDistance.Levenshtein("Paris", "Lyon"), EditDistance.Levenshtein(original, edited));
    }
}
