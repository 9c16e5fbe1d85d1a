using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// Rules per app (issue 11, item 5): the book gives each listed app its own rule set and every other app the default,
/// and the extractor applies the rule set of each session's app.
/// </summary>
public sealed class RuleBookTests
{
    private static readonly AppRules NoThumbs = new(
        [PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate], new Dictionary<string, double> { [PairSignals.Edit] = 2.0 }, labelsEnabled: false);

    private static readonly AppRules HeavyThumbs = new(AppRules.Builtin.EnabledSignals, new Dictionary<string, double> { [PairSignals.Thumbs] = 4.0 });

    private static readonly AppRules Defaults = new([PairSignals.Comparison], new Dictionary<string, double> { [PairSignals.Comparison] = 0.5 });

    private static readonly RuleBook Book = new(Defaults, new Dictionary<string, AppRules> { ["app-a"] = NoThumbs, ["app-b"] = HeavyThumbs });

    /// <summary>app id → which rule set it gets (by name), and that set's thumbs state, weight and labels.</summary>
    public static TheoryData<string, string, bool, double, bool> Lookups() => new()
    {
        { "app-a", nameof(NoThumbs), false, 1.0, false },
        { "app-b", nameof(HeavyThumbs), true, 4.0, true },
        { "app-c", nameof(Defaults), false, 1.0, true },
        // Ids match exactly: no case folding, no trimming, no prefix match.
        { "APP-A", nameof(Defaults), false, 1.0, true },
        { "app-a ", nameof(Defaults), false, 1.0, true },
        { "app-", nameof(Defaults), false, 1.0, true },
        { "", nameof(Defaults), false, 1.0, true },
    };

    [Theory]
    [MemberData(nameof(Lookups))]
    public void An_app_gets_its_own_rules_else_the_default(string appId, string expected, bool thumbsOn, double thumbsWeight, bool labels)
    {
        var rules = Book.For(appId);

        var byName = new Dictionary<string, AppRules> { [nameof(NoThumbs)] = NoThumbs, [nameof(HeavyThumbs)] = HeavyThumbs, [nameof(Defaults)] = Defaults };
        Assert.Same(byName[expected], rules);
        Assert.Equal(thumbsOn, rules.IsEnabled(PairSignals.Thumbs));
        Assert.Equal(thumbsWeight, rules.WeightOf(PairSignals.Thumbs));
        Assert.Equal(labels, rules.LabelsEnabled);
    }

    /// <summary>signal → weight under <see cref="NoThumbs"/>: stated weights, else 1.0 (also for an unknown signal).</summary>
    [Theory]
    [InlineData(PairSignals.Edit, 2.0)]
    [InlineData(PairSignals.Comparison, 1.0)]
    [InlineData(PairSignals.Thumbs, 1.0)]
    [InlineData("no-such-signal", 1.0)]
    public void A_signal_without_a_stated_weight_weighs_one(string signal, double weight) => Assert.Equal(weight, NoThumbs.WeightOf(signal));

    [Fact]
    public void The_builtin_book_turns_every_rule_on_at_weight_one_for_every_app()
    {
        var rules = new ExtractionSettings().Rules.For("any");

        Assert.Equal(new[] { PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate, PairSignals.Thumbs }.Order(), rules.EnabledSignals.Order());
        Assert.All(rules.EnabledSignals, s => Assert.Equal(1.0, rules.WeightOf(s)));
        Assert.True(rules.LabelsEnabled);
    }

    [Fact]
    public void One_extractor_applies_each_sessions_app_rules()
    {
        var extractor = new Extractor(new ExtractionSettings { Rules = Book });
        // The same session shape for three apps: a thumbs contrast, an edit and a label each.
        long offset = 0;
        foreach (var app in new[] { "app-a", "app-b", "app-c" })
        {
            var script = new SessionScript(sessionId: "s-" + app, appId: app, eventIds: app)
                .Shown("up").Shown("down").ThumbUp("up").ThumbDown("down")
                .Shown("g1", "The capital of France is Paris.").Edited("g1", "The capital of France is Paris, on the Seine.")
                .Ended();
            script.Feed(extractor, firstOffset: offset);
            offset += script.Events.Count;
        }

        // app-a: thumbs off, edit weighs 2, no labels; app-b: everything on, thumbs weigh 4; app-c (unlisted): the
        // default, where only comparisons pair (none here) and labels are on.
        var pairs = extractor.Output.Pairs.Select(p => (p.AppId, p.Signal, p.Weight)).Order().ToList();
        Assert.Equal([("app-a", PairSignals.Edit, 2.0), ("app-b", PairSignals.Edit, 1.0), ("app-b", PairSignals.Thumbs, 4.0)], pairs);
        Assert.Equal(["app-b", "app-b", "app-c", "app-c"], extractor.Output.Labels.Select(l => l.AppId).Order().ToList());
    }
}
