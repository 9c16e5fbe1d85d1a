using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tests.Runs;

/// <summary>The review gate as a table: the policy and the review of the new pairs → start now, or wait with the reason people read.</summary>
public sealed class ReviewGateTests
{
    public static TheoryData<string, bool, double, long, long, bool, long, string?> Table() => new()
    {
        { "not required: starts with nothing reviewed", false, 0.1, 40, 0, true, 0, null },
        { "not required: the fraction is not even looked at", false, 1.0, 40, 0, true, 0, null },
        { "required, nothing reviewed", true, 0.1, 40, 0, false, 4, "waiting for review: 0% of 40 new pairs reviewed (0), 10% needed (4)" },
        { "required, one short", true, 0.1, 40, 3, false, 4, "waiting for review: 7% of 40 new pairs reviewed (3), 10% needed (4)" },
        { "required, exactly the share (0.1 × 40 is not rounded up to 5)", true, 0.1, 40, 4, true, 4, null },
        { "required, more than the share", true, 0.1, 40, 12, true, 4, null },
        { "a part pair is rounded up: 10% of 41 needs 5", true, 0.1, 41, 4, false, 5, "waiting for review: 9% of 41 new pairs reviewed (4), 10% needed (5)" },
        { "10% of 41, met", true, 0.1, 41, 5, true, 5, null },
        { "all must be reviewed, one left", true, 1.0, 3, 2, false, 3, "waiting for review: 66% of 3 new pairs reviewed (2), 100% needed (3)" },
        { "all reviewed", true, 1.0, 3, 3, true, 3, null },
        { "no new pairs: nothing to wait for", true, 0.5, 0, 0, true, 0, null },
        { "a tiny share reviewed reads <1%, not 0%", true, 0.5, 1000, 1, false, 500, "waiting for review: <1% of 1000 new pairs reviewed (1), 50% needed (500)" },
        { "the smallest share still needs one pair, and reads <1%", true, 0.001, 10, 0, false, 1, "waiting for review: 0% of 10 new pairs reviewed (0), <1% needed (1)" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void The_gate_starts_or_waits_with_its_reason(
        string name, bool required, double fraction, long newPairs, long reviewed, bool proceed, long needed, string? reason)
    {
        var verdict = ReviewGate.Decide(required, fraction, new ReviewProgress(newPairs, reviewed));

        Assert.True(proceed == verdict.Proceed, name);
        Assert.Equal(needed, verdict.Needed);
        Assert.Equal(reason, verdict.Reason);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void A_fraction_outside_0_to_1_is_refused(double fraction) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ReviewGate.Decide(true, fraction, new ReviewProgress(10, 1)));

    [Theory]
    [InlineData(10, 11)]
    [InlineData(10, -1)]
    [InlineData(-1, 0)]
    public void Impossible_counts_are_refused(long newPairs, long reviewed) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ReviewGate.Decide(true, 0.1, new ReviewProgress(newPairs, reviewed)));
}
