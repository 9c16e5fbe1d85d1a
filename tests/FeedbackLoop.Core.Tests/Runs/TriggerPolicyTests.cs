using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tests.Runs;

/// <summary>When the orchestrator starts a run on its own: one run per app, a cooldown, the most urgent trigger recorded.</summary>
public sealed class TriggerPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cooldown = TimeSpan.FromHours(1);
    private const string Drop = "engagement dropped: recent 0.40 vs baseline 0.50";

    // minutesSinceLastRun: null = the app never ran. scheduleMinutesAgo: null = no occurrence fell due.
    public static TheoryData<string, string?, int?, long, string?, int?, RunTrigger?, string> Table() => new()
    {
        { "nothing fired", null, 120, 10, null, null, null, "nothing triggered a run" },
        { "enough new pairs", null, 120, 30, null, null, RunTrigger.Pairs, "30 new pairs ≥ min_new_pairs 30" },
        { "one pair short", null, 120, 29, null, null, null, "nothing triggered a run" },
        { "a first run needs no cooldown", null, null, 30, null, null, RunTrigger.Pairs, "30 new pairs" },
        { "an engagement drop", null, 120, 0, Drop, null, RunTrigger.EngagementDrop, Drop },
        { "the schedule fell due after the last run", null, 120, 0, null, 5, RunTrigger.Schedule, "schedule fell due at 2026-03-02 11:55:00Z" },
        { "the schedule's occurrence came before the last run: already served", null, 120, 0, null, 125, null, "nothing triggered a run" },
        { "a drop outranks the schedule and pairs, and all are named", null, 120, 40, Drop, 5, RunTrigger.EngagementDrop, "engagement dropped: recent 0.40 vs baseline 0.50; schedule fell due at 2026-03-02 11:55:00Z; 40 new pairs" },
        { "the schedule outranks pairs", null, 120, 40, null, 5, RunTrigger.Schedule, "schedule fell due" },
        { "a run in flight holds everything back", "demo-run-000000352", 120, 40, Drop, 5, null, "run demo-run-000000352 is in flight (triggered: engagement dropped" },
        { "inside the cooldown nothing starts", null, 30, 40, Drop, 5, null, "cooling down for 30 more min after the run started at 2026-03-02 11:30:00Z" },
        { "the cooldown ends on the minute", null, 60, 40, null, null, RunTrigger.Pairs, "40 new pairs" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decides_by_the_table(string situation, string? activeRun, int? minutesSinceLastRun, long newPairs, string? drop, int? scheduleMinutesAgo, RunTrigger? expected, string reason)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var facts = new TriggerFacts(
            Now,
            activeRun,
            minutesSinceLastRun is { } m ? Now.AddMinutes(-m) : null,
            Cooldown,
            newPairs,
            MinNewPairs: 30,
            drop,
            scheduleMinutesAgo is { } s ? Now.AddMinutes(-s) : null);

        var decision = TriggerPolicy.Decide(facts);

        Assert.Equal(expected, decision.Trigger);
        Assert.Equal(expected is not null, decision.Starts);
        Assert.Contains(reason, decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schedule_occurrence_in_the_future_does_not_fire()
    {
        var facts = new TriggerFacts(Now, null, null, Cooldown, 0, 30, null, Now.AddMinutes(1));
        Assert.False(TriggerPolicy.Decide(facts).Starts);
    }

    [Fact]
    public void Settings_that_cannot_hold_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TriggerPolicy.Decide(new TriggerFacts(Now, null, null, TimeSpan.FromMinutes(-1), 0, 30, null, null)));
        Assert.Throws<ArgumentOutOfRangeException>(() => TriggerPolicy.Decide(new TriggerFacts(Now, null, null, Cooldown, 0, 0, null, null)));
    }

    [Theory]
    [InlineData(RunTrigger.EngagementDrop, "engagement_drop")]
    [InlineData(RunTrigger.Schedule, "schedule")]
    public void New_triggers_are_stored_by_name_and_read_back(RunTrigger trigger, string text)
    {
        Assert.Equal(text, RunNames.Text(trigger));
        Assert.Equal(trigger, RunNames.ParseTrigger(text));
        Assert.Equal($"demo-run-000000352-{text}1", RunNames.RunId("demo", 352, trigger, 0));
    }
}
