using System.Globalization;
using FeedbackLoop.Core.Gating;

namespace FeedbackLoop.Core.Tests.Gating;

/// <summary>
/// eval.recency as a table: held-out pairs given as minutes after a start (one pair per entry, ids p0, p1, … in that
/// order), a window and a minimum; which pairs the gate scores, and the counts the report records.
/// </summary>
public sealed class RecentEvalPairsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    // scenario,                                   pair minutes,            window, min, chosen ids,        in window
    [InlineData("the window holds more than the minimum", "0 10 20 25 28 30", 10, 2, "p2 p3 p4 p5", 4)]
    [InlineData("the window's start is inclusive", "0 19 20 30", 10, 1, "p2 p3", 2)]
    [InlineData("a thin window is widened to the newest min", "0 5 10 29 30", 5, 4, "p1 p2 p3 p4", 2)]
    [InlineData("fewer held-out pairs than the minimum: all", "0 30", 5, 100, "p0 p1", 1)]
    [InlineData("the window ends at the newest pair, not the clock", "0 1 2", 1, 1, "p1 p2", 2)]
    [InlineData("order of the input does not matter", "30 0 28 10", 5, 1, "p0 p2", 2)]
    [InlineData("one pair", "7", 30, 100, "p0", 1)]
    public void The_gate_scores_the_pairs_of_the_window_and_at_least_the_newest_minimum(
        string scenario, string minutes, int windowMinutes, int minPairs, string chosen, int inWindow)
    {
        var pairs = Pairs(minutes);

        var selection = new RecentEvalPairs(TimeSpan.FromMinutes(windowMinutes), minPairs).Select(pairs);

        Assert.True(chosen.Split(' ').Order(StringComparer.Ordinal).SequenceEqual(selection.PairIds.Order(StringComparer.Ordinal)),
            $"{scenario}: chose {string.Join(' ', selection.PairIds.Order(StringComparer.Ordinal))}");
        var used = selection.Used;
        Assert.Equal((pairs.Count, inWindow, selection.PairIds.Count), (used.HeldOut, used.InWindow, used.Used));
        Assert.Equal(pairs.Max(p => p.CreatedAt), used.To);
        Assert.Equal(pairs.Where(p => selection.PairIds.Contains(p.PairId)).Min(p => p.CreatedAt), used.From);
    }

    [Fact]
    public void At_the_edge_of_the_minimum_pairs_made_at_the_same_time_are_taken_by_id()
    {
        // Three pairs at minute 0, the newest at 30; a 1-minute window holds one, the minimum asks for three.
        var pairs = new List<HeldOutPair> { new("c", Start), new("a", Start), new("b", Start), new("z", Start.AddMinutes(30)) };

        var selection = new RecentEvalPairs(TimeSpan.FromMinutes(1), 3).Select(pairs);

        Assert.Equal(["a", "b", "z"], selection.PairIds.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void No_held_out_pairs_choose_nothing_and_say_so()
    {
        var selection = new RecentEvalPairs(TimeSpan.FromMinutes(30), 100).Select([]);

        Assert.Empty(selection.PairIds);
        Assert.Equal(new EvalPairsUsed(0, 0, 0, null, null, TimeSpan.FromMinutes(30), 100), selection.Used);
        Assert.Equal("no held-out pairs to choose from (eval.recency window 30m, at least 100)", selection.Used.Describe());
    }

    [Theory]
    [InlineData("0 10 20 25 28 30", 10, 2,
        "the 4 of 6 held-out pairs made in the 10m up to the newest, made 2026-01-05T09:20:00Z to 2026-01-05T09:30:00Z (eval.recency window 10m, at least 2)")]
    [InlineData("0 5 10 29 30", 5, 4,
        "the newest 4 of 5 held-out pairs, made 2026-01-05T09:05:00Z to 2026-01-05T09:30:00Z: the 5m up to the newest held only 2 (eval.recency window 5m, at least 4)")]
    public void The_choice_is_described_with_its_counts_times_and_rule(string minutes, int windowMinutes, int minPairs, string description)
    {
        var selection = new RecentEvalPairs(TimeSpan.FromMinutes(windowMinutes), minPairs).Select(Pairs(minutes));

        Assert.Equal(description, selection.Used.Describe());
    }

    [Fact]
    public void A_duplicate_pair_id_is_refused()
    {
        var pairs = new List<HeldOutPair> { new("a", Start), new("a", Start.AddMinutes(1)) };

        Assert.Throws<ArgumentException>(() => new RecentEvalPairs(TimeSpan.FromMinutes(1), 1).Select(pairs));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-1, 1)]
    [InlineData(1, 0)]
    public void A_rule_without_a_window_or_a_minimum_cannot_be_made(int windowMinutes, int minPairs)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecentEvalPairs(TimeSpan.FromMinutes(windowMinutes), minPairs));
    }

    [Fact]
    public void The_gates_reason_says_which_pairs_were_scored_and_the_report_keeps_them()
    {
        // 100 recent pairs: the candidate is right on 80, the incumbent on the first 60 of them.
        var used = new EvalPairsUsed(400, 100, 100, Start.AddMinutes(60), Start.AddMinutes(90), TimeSpan.FromMinutes(30), 100);
        var candidate = new ModelScore(0.8, 0.04, 100, Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", i => i < 80));
        var incumbent = new ModelScore(0.6, 0.049, 100, Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", i => i < 60));
        var report = new EvalReport(candidate, incumbent, []) { PairsUsed = used };

        var decision = EvalGate.Decide(EvalReport.Parse(report.ToJson()), 0.02);

        Assert.True(decision.Promote);
        Assert.Equal(
            "candidate 0.800 vs incumbent 0.600: +0.200 ≥ margin 0.02 and 95% lower bound +0.121 > 0 (n=100: the 100 of 400 held-out pairs made in the 30m up to "
            + "the newest, made 2026-01-05T10:00:00Z to 2026-01-05T10:30:00Z (eval.recency window 30m, at least 100); SE candidate 0.040, incumbent 0.049)",
            decision.Reason);
        Assert.Equal(used, EvalReport.Parse(report.ToJson()).PairsUsed);
        // Without the setting the report is as before: no pairs_used in its JSON.
        Assert.DoesNotContain("pairs_used", new EvalReport(candidate, incumbent, []).ToJson(), StringComparison.Ordinal);
    }

    private static List<HeldOutPair> Pairs(string minutes) =>
        minutes.Split(' ').Select((m, i) => new HeldOutPair($"p{i}", Start.AddMinutes(int.Parse(m, CultureInfo.InvariantCulture)))).ToList();
}
