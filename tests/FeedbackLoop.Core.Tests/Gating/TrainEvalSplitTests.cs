using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Core.Tests.Gating;

public sealed class TrainEvalSplitTests
{
    private static readonly string[] PairIds =
        [.. Enumerable.Range(0, 10_000).Select(i => StableId.Pair("comparison", $"chosen-{i}", $"rejected-{i}"))];

    [Fact]
    public void About_the_requested_fraction_of_pairs_lands_in_the_eval_set()
    {
        var evalFraction = (double)PairIds.Count(id => TrainEvalSplit.IsEval(id, 0.2)) / PairIds.Length;

        Assert.InRange(evalFraction, 0.18, 0.22);
    }

    [Fact]
    public void A_pair_lands_on_the_same_side_every_time()
    {
        var first = PairIds.Select(id => TrainEvalSplit.IsEval(id, 0.2)).ToArray();
        var second = PairIds.Select(id => TrainEvalSplit.IsEval(id, 0.2)).ToArray();

        Assert.Equal(first, second);
    }

    [Fact]
    public void The_side_of_a_pair_never_changes_across_releases()
    {
        // SHA-256("pair-4") starts 0760ef21a9211066, SHA-256("pair-1") starts fd155c00a630ef82: the first 8 bytes
        // big-endian, top 53 bits over 2^53. Changing the rule would move pairs between train and eval sets in use.
        Assert.Equal(0.028822847097334625, TrainEvalSplit.FractionOf("pair-4"));
        Assert.Equal(0.9886071683487817, TrainEvalSplit.FractionOf("pair-1"));
        Assert.True(TrainEvalSplit.IsEval("pair-4", 0.2));
        Assert.False(TrainEvalSplit.IsEval("pair-1", 0.2));
    }

    [Fact]
    public void Growing_the_eval_fraction_only_adds_pairs_to_the_eval_set()
    {
        Assert.All(
            PairIds.Where(id => TrainEvalSplit.IsEval(id, 0.1)),
            id => Assert.True(TrainEvalSplit.IsEval(id, 0.2)));
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(1.0, 10_000)]
    public void Fractions_of_zero_and_one_put_no_pair_or_every_pair_in_the_eval_set(double fraction, int expected)
    {
        Assert.Equal(expected, PairIds.Count(id => TrainEvalSplit.IsEval(id, fraction)));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.1)]
    [InlineData(double.NaN)]
    public void Fractions_outside_zero_to_one_are_refused(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainEvalSplit.IsEval("p", fraction));
    }
}
