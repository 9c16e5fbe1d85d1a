using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Rollouts;

namespace FeedbackLoop.Core.Tests.Rollouts;

/// <summary>Which engagement windows count for which arm of a rollout, as a table.</summary>
public sealed class RolloutArmsTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static EngagementTotal Window(string version, string variant, int minutes, long shown, long up) =>
        new("shop", version, variant, Start.AddMinutes(minutes), Start.AddMinutes(minutes + 1), shown, up, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

    public static TheoryData<string, EngagementTotal, ArmCounts, ArmCounts> Table() => new()
    {
        { "the canary version served as canary", Window("m2", "canary", 0, 10, 3), new(0, 0), new(10, 3) },
        { "the stable version served as stable", Window("m1", "stable", 5, 10, 4), new(10, 4), new(0, 0) },
        { "a window from before the rollout", Window("m1", "stable", -1, 10, 4), new(0, 0), new(0, 0) },
        { "the stable version without a variant (an SDK that does not resolve)", Window("m1", "", 0, 10, 4), new(0, 0), new(0, 0) },
        { "the canary version labelled stable", Window("m2", "stable", 0, 10, 4), new(0, 0), new(0, 0) },
        { "another version", Window("m0", "stable", 0, 10, 4), new(0, 0), new(0, 0) },
        { "thumbs up counted in a later window than its output: capped at shown", Window("m2", "canary", 0, 2, 3), new(0, 0), new(2, 2) },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Count(string situation, EngagementTotal window, ArmCounts stable, ArmCounts canary)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        Assert.Equal((stable, canary), RolloutArms.Count([window], "m2", "m1", Start));
    }

    [Fact]
    public void Windows_of_both_arms_add_up()
    {
        var (stable, canary) = RolloutArms.Count(
            [Window("m1", "stable", 0, 90, 27), Window("m2", "canary", 0, 10, 2), Window("m1", "stable", 1, 80, 30), Window("m2", "canary", 1, 12, 5)],
            "m2", "m1", Start);

        Assert.Equal((new ArmCounts(170, 57), new ArmCounts(22, 7)), (stable, canary));
    }
}
