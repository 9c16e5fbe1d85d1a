using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>Rule 5 of docs/contract/rules.md ("Rule 5 — Unpaired labels") as a table: a session's thumbs and ratings → its unpaired labels (KTO rows).</summary>
public sealed class FeedbackLabelRuleTests
{
    private static readonly Dictionary<string, (Func<SessionScript> Script, string[] Labels)> Scenarios = new()
    {
        ["thumb up"] = (() => Shown().ThumbUp("g1"), ["g1 u1 True"]),
        ["thumb down"] = (() => Shown().ThumbDown("g1"), ["g1 u1 False"]),
        ["rating 1"] = (() => Shown().Rated("g1", 1), ["g1 u1 False"]),
        ["rating 2"] = (() => Shown().Rated("g1", 2), ["g1 u1 False"]),
        ["rating 3"] = (() => Shown().Rated("g1", 3), []),
        ["rating 4"] = (() => Shown().Rated("g1", 4), ["g1 u1 True"]),
        ["rating 5"] = (() => Shown().Rated("g1", 5), ["g1 u1 True"]),
        ["thumb down overrides an earlier rating 5"] = (() => Shown().Rated("g1", 5).ThumbDown("g1"), ["g1 u1 False"]),
        ["thumb up overrides a later rating 1"] = (() => Shown().ThumbUp("g1").Rated("g1", 1), ["g1 u1 True"]),
        ["latest rating wins"] = (() => Shown().Rated("g1", 5).Rated("g1", 2), ["g1 u1 False"]),
        ["a final rating 3 replaces an earlier rating 5"] = (() => Shown().Rated("g1", 5).Rated("g1", 3), []),
        ["latest rating wins although delivered out of order"] = (() => Shown()
            .At(TimeSpan.FromSeconds(20)).Rated("g1", 1)
            .At(TimeSpan.FromSeconds(10)).Rated("g1", 5),
            ["g1 u1 False"]),
        ["thumb flipped from up to down"] = (() => Shown().ThumbUp("g1").ThumbDown("g1"), ["g1 u1 False"]),
        ["latest thumb wins although delivered out of order"] = (() => Shown()
            .At(TimeSpan.FromSeconds(20)).ThumbDown("g1")
            .At(TimeSpan.FromSeconds(10)).ThumbUp("g1"),
            ["g1 u1 False"]),
        ["thumbs at the same time: the later record wins"] = (() => Shown()
            .At(TimeSpan.FromSeconds(10)).ThumbUp("g1")
            .At(TimeSpan.FromSeconds(10)).ThumbDown("g1"),
            ["g1 u1 False"]),
        ["two users label the same generation"] = (() => Shown().As("u1").ThumbUp("g1").As("u2").Rated("g1", 1), ["g1 u1 True", "g1 u2 False"]),
        ["one user labels two generations"] = (() => Shown().Shown("g2").ThumbUp("g1").ThumbDown("g2"), ["g1 u1 True", "g2 u1 False"]),
        ["thumb before the generation is shown"] = (() => new SessionScript().ThumbUp("g1").Shown("g1"), ["g1 u1 True"]),
        ["thumb on a generation never shown"] = (() => Shown().ThumbUp("g9"), []),
        ["copy, accept, dwell and edit are not labels"] = (() => Shown().Copied("g1").Accepted("g1").Dwelled("g1", 900).Edited("g1", "Paris!"), []),
    };

    public static TheoryData<string> ScenarioNames => new(Scenarios.Keys);

    private static SessionScript Shown() => new SessionScript().Shown("g1");

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public void Session_yields_exactly_the_labels_in_the_table(string scenario)
    {
        var (script, expected) = Scenarios[scenario];

        var extractor = script().Ended().Run();

        Assert.Equal(Rows.Sorted(expected), Rows.LabelsOf(extractor));
    }

    [Fact]
    public void Labels_wait_until_the_session_resolves()
    {
        var extractor = Shown().ThumbUp("g1").Run();

        Assert.Empty(extractor.Output.Labels);
        extractor.ResolveAll();
        Assert.Single(extractor.Output.Labels);
    }

    [Fact]
    public void Label_row_carries_the_generation_and_the_final_thumb_time()
    {
        var script = new SessionScript(sessionId: "s7", userId: "u3", appId: "shop")
            .Shown("g1", "Paris.", model: "model-b")
            .At(TimeSpan.FromMinutes(1)).Rated("g1", 1)
            .At(TimeSpan.FromMinutes(4)).ThumbUp("g1")
            .At(TimeSpan.FromMinutes(2)).ThumbDown("g1")
            .Ended();

        var label = Assert.Single(script.Run().Output.Labels);

        Assert.Equal(StableId.Label("g1", "u3"), label.LabelId);
        Assert.Equal("shop", label.AppId);
        Assert.Equal(SessionScript.Prompt(), label.Prompt);
        Assert.Equal(new ConversationTurn("assistant", "Paris."), label.Completion);
        Assert.True(label.Label);
        Assert.Equal("g1", label.GenerationId);
        Assert.Equal("model-b", label.ModelVersion);
        Assert.Equal("s7", label.SessionId);
        Assert.Equal("u3", label.UserId);
        Assert.Equal(SessionScript.T0.AddMinutes(4), label.CreatedAt);
    }

    [Fact]
    public void Label_from_a_rating_is_created_at_the_final_rating_time()
    {
        var script = Shown().At(TimeSpan.FromMinutes(1)).Rated("g1", 2).At(TimeSpan.FromMinutes(3)).Rated("g1", 4).Ended();

        var label = Assert.Single(script.Run().Output.Labels);

        Assert.True(label.Label);
        Assert.Equal(SessionScript.T0.AddMinutes(3), label.CreatedAt);
    }

    [Fact]
    public void Labels_can_be_switched_off()
    {
        var extractor = Shown().ThumbUp("g1").Ended().Run(new ExtractionSettings { Rules = RuleBook.Uniform(new AppRules(AppRules.Builtin.EnabledSignals, labelsEnabled: false)) });

        Assert.Empty(extractor.Output.Labels);
    }
}
