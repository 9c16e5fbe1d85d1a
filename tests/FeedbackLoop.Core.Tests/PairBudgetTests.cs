using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// The per-session, per-rule pair budget (docs/contract/rules.md, "Limits"; issue 10, finding 4): no rule
/// makes more than <see cref="ExtractionSettings.MaxPairsPerSessionPerRule"/> pairs in one session, each cut
/// is counted once, and the pairs kept are the same on every run.
/// </summary>
public sealed class PairBudgetTests
{
    private const int Budget = 3;

    /// <summary>A session whose rule would make <c>n</c> pairs without a budget.</summary>
    private static SessionScript Comparison(int n)
    {
        var script = new SessionScript();
        for (var i = 0; i <= n; i++) script.Shown($"c{i:D2}", candidateSet: "cs");
        return script.Chose("cs", "c00");
    }

    private static SessionScript Edits(int n)
    {
        var script = new SessionScript();
        // "Answer gNN" edited to "Answer gNN!!" changes 2 of 12 characters: inside the 0.05–0.80 band.
        for (var i = 0; i < n; i++) script.Shown($"g{i:D2}").Edited($"g{i:D2}", $"Answer g{i:D2}!!");
        return script;
    }

    private static SessionScript Chain(int n)
    {
        var script = new SessionScript().Shown("r00");
        for (var i = 1; i <= n; i++) script.Regenerated($"r{i - 1:D2}", $"r{i:D2}").Shown($"r{i:D2}");
        return script.Copied($"r{n:D2}");
    }

    private static SessionScript Thumbs(int ups, int downs, bool reversed = false)
    {
        var script = new SessionScript();
        for (var i = 0; i < ups; i++) script.Shown($"u{i:D2}");
        for (var i = 0; i < downs; i++) script.Shown($"d{i:D2}");
        var thumbs = Enumerable.Range(0, ups).Select(i => (Id: $"u{i:D2}", Up: true))
            .Concat(Enumerable.Range(0, downs).Select(i => (Id: $"d{i:D2}", Up: false))).ToList();
        if (reversed) thumbs.Reverse();
        foreach (var (id, up) in thumbs) _ = up ? script.ThumbUp(id) : script.ThumbDown(id);
        return script;
    }

    /// <summary>rule, its script, pairs without a budget.</summary>
    public static TheoryData<string, string, int> Rules() => new()
    {
        { PairSignals.Comparison, "comparison", 6 },
        { PairSignals.Edit, "edit", 6 },
        { PairSignals.Regenerate, "chain", 6 },
        { PairSignals.Thumbs, "thumbs", 9 },
    };

    private static SessionScript Script(string name) => name switch
    {
        "comparison" => Comparison(6),
        "edit" => Edits(6),
        "chain" => Chain(6),
        "thumbs" => Thumbs(3, 3),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Every_pair_rule_stops_at_the_budget_and_counts_the_cut_once(string signal, string script, int unbounded)
    {
        var free = Script(script).RunToEnd(new ExtractionSettings { MaxPairsPerSessionPerRule = int.MaxValue });
        Assert.Equal(unbounded, free.Output.Pairs.Count(p => p.Signal == signal));
        Assert.Equal(0, free.Counters.PairBudgetHits);

        var bounded = Script(script).RunToEnd(new ExtractionSettings { MaxPairsPerSessionPerRule = Budget });
        Assert.Equal(Budget, bounded.Output.Pairs.Count(p => p.Signal == signal));
        Assert.Equal(1, bounded.Counters.PairBudgetHits);
        Assert.Equal(Budget, bounded.Counters.PairsEmitted);
    }

    [Fact]
    public void A_rule_exactly_at_its_budget_is_not_counted_as_cut()
    {
        var extractor = Thumbs(1, 3).RunToEnd(new ExtractionSettings { MaxPairsPerSessionPerRule = Budget });
        Assert.Equal(Budget, extractor.Output.Pairs.Count);
        Assert.Equal(0, extractor.Counters.PairBudgetHits);
    }

    [Fact]
    public void Budgets_are_per_rule_and_per_session()
    {
        var extractor = new Extractor(new ExtractionSettings { MaxPairsPerSessionPerRule = Budget });
        Thumbs(3, 3).Feed(extractor);
        new SessionScript(sessionId: "s2").Shown("x").Shown("y").ThumbUp("x").ThumbDown("y").Feed(extractor, firstOffset: 100);
        extractor.ResolveAll();
        Assert.Equal(Budget, extractor.Output.Pairs.Count(p => p.SessionId == "s1"));
        Assert.Single(extractor.Output.Pairs, p => p.SessionId == "s2");
        Assert.Equal(1, extractor.Counters.PairBudgetHits);
    }

    [Fact]
    public void The_thumbs_pairs_kept_do_not_depend_on_the_order_the_thumbs_arrived_in()
    {
        var settings = new ExtractionSettings { MaxPairsPerSessionPerRule = Budget };
        var forward = Thumbs(4, 4).RunToEnd(settings).Output.Pairs.Select(p => p.PairId).Order(StringComparer.Ordinal);
        var backward = Thumbs(4, 4, reversed: true).RunToEnd(settings).Output.Pairs.Select(p => p.PairId).Order(StringComparer.Ordinal);
        Assert.Equal(forward, backward);
    }

    [Fact]
    public void The_default_budget_turns_the_250000_pair_session_into_32_pairs()
    {
        // The reported attack: 1,000 ups and 1,000 downs on the same input made ups × downs = 1,000,000 candidate pairs.
        var extractor = Thumbs(1_000, 1_000).RunToEnd();
        Assert.Equal(32, new ExtractionSettings().MaxPairsPerSessionPerRule);
        Assert.Equal(32, extractor.Output.Pairs.Count);
        Assert.Equal(1, extractor.Counters.PairBudgetHits);
        // Labels are one per (generation, user), already bounded by the session's generations: untouched.
        Assert.Equal(2_000, extractor.Output.Labels.Count);
    }
}
