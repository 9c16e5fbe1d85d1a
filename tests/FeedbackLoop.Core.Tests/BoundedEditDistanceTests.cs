using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Issue 10, finding 7: the edit rule measures with a bounded distance that stops once the band is exceeded, and
/// skips texts over the length limit. The bounded distance must agree with the full one wherever it answers.
/// </summary>
public sealed class BoundedEditDistanceTests
{
    public static TheoryData<string, string, int> EdgeCases => new()
    {
        { "", "", 0 },
        { "", "abc", 0 },
        { "", "abc", 2 },
        { "", "abc", 3 },
        { "abc", "abc", 0 },
        { "kitten", "sitting", 2 },
        { "kitten", "sitting", 3 },
        { "sitting", "kitten", 3 },
        { "ab", "ba", 1 },
        { "ab", "ba", 2 },
        { "aaaa", "aaaaaaaa", 3 },
        { "aaaa", "aaaaaaaa", 4 },
        { "abcdef", "fedcba", 5 },
        { "abcdef", "fedcba", 6 },
        { "abc", "xyz", 100 },
        // UTF-16 code units, as the full distance counts them: a surrogate pair is two units.
        { "a😀b", "a😁b", 0 },
        { "a😀b", "a😁b", 1 },
        { "😀", "", 1 },
        { "😀", "", 2 },
        { "x\ud800", "x\udc00", 1 },
        { "日本語のテキスト", "日本語テキスト", 1 },
    };

    [Theory]
    [MemberData(nameof(EdgeCases))]
    public void Bounded_distance_is_the_full_distance_when_within_the_limit_else_null(string a, string b, int limit)
    {
        var full = EditDistance.Levenshtein(a, b);
        Assert.Equal(full <= limit ? full : (int?)null, EditDistance.LevenshteinWithin(a, b, limit));
        Assert.Equal(full <= limit ? full : (int?)null, EditDistance.LevenshteinWithin(b, a, limit));
    }

    [Fact]
    public void Bounded_distance_agrees_with_the_full_one_on_twenty_thousand_seeded_pairs()
    {
        var random = new Random(1_010);
        // A small alphabet with a surrogate pair and a lone half, so distances spread over the whole range.
        string[] units = ["a", "b", "c", "d", " ", "é", "😀", "\ud800"];
        for (var n = 0; n < 20_000; n++)
        {
            var a = Text(random, units, random.Next(0, 40));
            // Half the pairs are near (a few random edits), half unrelated.
            var b = n % 2 == 0 ? Mutate(random, units, a, random.Next(0, 8)) : Text(random, units, random.Next(0, 40));
            var limit = random.Next(-1, 45);
            var full = EditDistance.Levenshtein(a, b);
            Assert.True((full <= limit ? full : (int?)null) == EditDistance.LevenshteinWithin(a, b, limit),
                $"pair {n}: limit {limit}, full {full}, bounded {EditDistance.LevenshteinWithin(a, b, limit)}");
        }
    }

    [Fact]
    public void Bounded_distance_agrees_with_the_full_one_on_texts_spanning_several_machine_words()
    {
        // Lengths up to 400 UTF-16 units: up to seven 64-row blocks in the bit-parallel method, and limits from small
        // (the band) to the whole length (bit-parallel, with its early stop).
        var random = new Random(2_026);
        string[] units = ["a", "b", "c", "😀"];
        for (var n = 0; n < 1_500; n++)
        {
            var a = Text(random, units, random.Next(0, 200));
            var b = n % 3 == 0 ? Text(random, units, random.Next(0, 200)) : Mutate(random, units, a, random.Next(0, 120));
            var limit = n % 2 == 0 ? random.Next(0, 12) : random.Next(0, 450);
            var full = EditDistance.Levenshtein(a, b);
            Assert.True((full <= limit ? full : (int?)null) == EditDistance.LevenshteinWithin(a, b, limit),
                $"pair {n}: lengths {a.Length}/{b.Length}, limit {limit}, full {full}, bounded {EditDistance.LevenshteinWithin(a, b, limit)}");
        }
    }

    [Fact]
    public void Bounded_normalized_distance_equals_the_full_one_or_is_null_exactly_when_it_exceeds_the_maximum()
    {
        var random = new Random(7);
        string[] units = ["a", "b", "c", "😀"];
        double[] maxima = [0, 0.05, 0.2, 0.5, 0.8, 1, 2, double.PositiveInfinity];
        for (var n = 0; n < 5_000; n++)
        {
            var a = Text(random, units, random.Next(0, 30));
            var b = Mutate(random, units, a, random.Next(0, 12));
            var max = maxima[n % maxima.Length];
            var full = EditDistance.Normalized(a, b);
            Assert.Equal(full <= max ? full : (double?)null, EditDistance.NormalizedWithin(a, b, max));
        }
    }

    [Fact]
    public void Two_unrelated_long_texts_are_found_outside_a_narrow_band_after_a_few_rows()
    {
        // 32k units each and nothing in common: the full distance is 32k² cells; a 5% band stops after ~1.6k rows.
        var a = new string('a', 32_000);
        var b = new string('b', 32_000);

        Assert.Null(EditDistance.NormalizedWithin(a, b, 0.05));
        Assert.Null(EditDistance.LevenshteinWithin(a, b + "b", 0));
    }

    [Fact]
    public void An_edit_over_the_text_limit_is_skipped_and_counted_and_one_within_it_pairs()
    {
        var settings = new ExtractionSettings { MaxEditTextLength = 40 };
        var longOutput = new string('x', 41);
        var extractor = new SessionScript()
            .Shown("g1").Edited("g1", "Answer g1, corrected")
            .Shown("g2", output: longOutput).Edited("g2", longOutput[..30] + "yyyyyyyyyy")
            .Shown("g3").Edited("g3", new string('z', 41))
            .RunToEnd(settings);

        Assert.Equal(2, extractor.Counters.EditsOverTextLimit);
        Assert.Equal(0, extractor.Counters.EditsOutsideBand);
        var pair = Assert.Single(extractor.Output.Pairs);
        Assert.Equal((PairSignals.Edit, "Answer g1, corrected"), (pair.Signal, pair.Chosen.Content));
    }

    private static string Text(Random random, string[] units, int count) =>
        string.Concat(Enumerable.Range(0, count).Select(_ => units[random.Next(units.Length)]));

    private static string Mutate(Random random, string[] units, string text, int edits)
    {
        var chars = new List<string>(text.Select(c => c.ToString()));
        for (var e = 0; e < edits; e++)
        {
            var at = random.Next(chars.Count + 1);
            switch (random.Next(3))
            {
                case 0:
                    chars.Insert(at, units[random.Next(units.Length)]);
                    break;
                case 1 when at < chars.Count:
                    chars.RemoveAt(at);
                    break;
                default:
                    if (at < chars.Count) chars[at] = units[random.Next(units.Length)];
                    break;
            }
        }
        return string.Concat(chars);
    }
}
