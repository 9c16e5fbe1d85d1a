using FeedbackLoop.Orchestration.Trigger;

namespace FeedbackLoop.Orchestration.Tests.Trigger;

/// <summary>The cron schedule of retrain triggers: which occurrence fell due since the last run.</summary>
public sealed class RetrainScheduleTests
{
    private static readonly DateTimeOffset Monday9 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    // since/now as minutes after Monday 09:00 UTC; expected the same, or null.
    public static TheoryData<string, string, int?, int, int?> Table() => new()
    {
        { "daily at 02:00, the next one not yet due", "0 2 * * *", 0, 60, null },
        { "daily at 02:00, due the next night", "0 2 * * *", 0, 17 * 60 + 1, 17 * 60 },
        { "exactly at the occurrence counts", "0 2 * * *", 0, 17 * 60, 17 * 60 },
        { "several missed occurrences collapse into the newest", "0 * * * *", 0, 5 * 60 + 30, 5 * 60 },
        { "an occurrence at the last run itself was served by it", "0 * * * *", 0, 30, null },
        { "no last run: nothing from the past is due", "0 * * * *", null, 600, null },
        { "weekdays only: Saturday's look finds Friday's", "0 6 * * 1-5", 0, 5 * 24 * 60, 4 * 24 * 60 - 3 * 60 },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Finds_the_latest_occurrence_due(string situation, string cron, int? since, int now, int? expected)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var due = RetrainSchedule.Parse(cron).LastDue(since is { } s ? Monday9.AddMinutes(s) : null, Monday9.AddMinutes(now));
        Assert.Equal(expected is { } e ? Monday9.AddMinutes(e) : null, due);
    }

    [Fact]
    public void A_minutely_schedule_after_a_long_outage_still_answers_the_newest()
    {
        var since = Monday9;
        var now = Monday9.AddDays(120).AddSeconds(30);
        Assert.Equal(Monday9.AddDays(120), RetrainSchedule.Parse("* * * * *").LastDue(since, now));
    }

    [Theory]
    [InlineData("every day")]
    [InlineData("0 2 * *")]
    [InlineData("61 * * * *")]
    public void A_bad_expression_is_refused_with_the_expression_named(string cron)
    {
        var error = Assert.Throws<FormatException>(() => RetrainSchedule.Parse(cron));
        Assert.Contains($"'{cron}'", error.Message, StringComparison.Ordinal);
    }
}
