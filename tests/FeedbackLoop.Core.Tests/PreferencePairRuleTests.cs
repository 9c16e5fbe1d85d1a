using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>Rules 1–4 of docs/contract/rules.md as a table: a session's events in delivery order → the pairs they must yield.</summary>
public sealed class PreferencePairRuleTests
{
    // Twenty distinct lowercase letters: upper-casing the first n changes exactly n characters, so the
    // normalized edit distance is exactly n / 20 (n = 1 is the 0.05 bound, n = 16 the 0.80 bound).
    private const string Letters = "abcdefghijklmnopqrst";
    private const string Answer = "The capital of France is Paris, a city on the Seine.";
    private const string AnswerShortened = "The capital of France is Paris."; // 21 of 52 characters removed: 0.40
    private const string AnswerWithTypo = "The capital of France is Paris, a city on the Siene."; // 2 of 52: 0.038
    private const string AnswerRewritten = "Lyon"; // at least 48 of 52: above 0.92

    private static string Changed(int characters) => Letters[..characters].ToUpperInvariant() + Letters[characters..];

    private static readonly Dictionary<string, (Func<SessionScript> Script, string[] Pairs)> Scenarios = new()
    {
        // Rule 1: comparison
        ["comparison of two candidates"] = (() => new SessionScript()
            .Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs").Chose("cs", "a"),
            ["comparison a>b"]),
        ["comparison of three candidates"] = (() => new SessionScript()
            .Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs").Shown("c", candidateSet: "cs").Chose("cs", "b"),
            ["comparison b>a", "comparison b>c"]),
        ["choice delivered before any candidate is shown is deferred"] = (() => new SessionScript()
            .Chose("cs", "a").Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs"),
            ["comparison a>b"]),
        ["choice delivered between the candidates' shown events"] = (() => new SessionScript()
            .Shown("a", candidateSet: "cs").Chose("cs", "a").Shown("b", candidateSet: "cs").Shown("c", candidateSet: "cs"),
            ["comparison a>b", "comparison a>c"]),
        ["chosen candidate never shown"] = (() => new SessionScript()
            .Shown("b", candidateSet: "cs").Shown("c", candidateSet: "cs").Chose("cs", "a").Ended(),
            []),
        ["candidates of another set are not rejected"] = (() => new SessionScript()
            .Shown("a", candidateSet: "cs1").Shown("b", candidateSet: "cs1").Shown("c", candidateSet: "cs2").Chose("cs1", "a"),
            ["comparison a>b"]),
        ["a set of one candidate"] = (() => new SessionScript()
            .Shown("a", candidateSet: "cs").Chose("cs", "a"),
            []),

        // Rule 2: edit
        ["edit inside the band"] = (() => new SessionScript()
            .Shown("g1", Answer).Edited("g1", AnswerShortened, eventId: "edit-1"),
            ["edit edit-1>g1"]),
        ["edit exactly at the lower bound 0.05"] = (() => new SessionScript()
            .Shown("g1", Letters).Edited("g1", Changed(1), eventId: "edit-1"),
            ["edit edit-1>g1"]),
        ["edit exactly at the upper bound 0.80"] = (() => new SessionScript()
            .Shown("g1", Letters).Edited("g1", Changed(16), eventId: "edit-1"),
            ["edit edit-1>g1"]),
        ["typo fix below 0.05"] = (() => new SessionScript()
            .Shown("g1", Answer).Edited("g1", AnswerWithTypo, eventId: "edit-1"),
            []),
        ["rewrite above 0.80"] = (() => new SessionScript()
            .Shown("g1", Answer).Edited("g1", AnswerRewritten, eventId: "edit-1"),
            []),
        ["edit just above the upper bound (0.85)"] = (() => new SessionScript()
            .Shown("g1", Letters).Edited("g1", Changed(17), eventId: "edit-1"),
            []),
        ["edit saving the text unchanged"] = (() => new SessionScript()
            .Shown("g1", Answer).Edited("g1", Answer, eventId: "edit-1"),
            []),
        ["edit delivered before its generation is shown is deferred"] = (() => new SessionScript()
            .Edited("g1", AnswerShortened, eventId: "edit-1").Shown("g1", Answer),
            ["edit edit-1>g1"]),
        ["edit of a generation never shown"] = (() => new SessionScript()
            .Shown("g2", Answer).Edited("g1", AnswerShortened, eventId: "edit-1").Ended(),
            []),

        // Rule 3: regenerate
        ["chain of two, end copied"] = (() => ChainOfTwo().Copied("g2"), ["regenerate g2>g1"]),
        ["chain of two, end accepted"] = (() => ChainOfTwo().Accepted("g2"), ["regenerate g2>g1"]),
        ["chain of two, end thumbed up"] = (() => ChainOfTwo().ThumbUp("g2"), ["regenerate g2>g1"]),
        ["chain of two, end rated 5"] = (() => ChainOfTwo().Rated("g2", 5), ["regenerate g2>g1"]),
        ["chain of two, end rated 4"] = (() => ChainOfTwo().Rated("g2", 4), ["regenerate g2>g1"]),
        ["chain of three, end copied"] = (() => ChainOfThree().Copied("g3"), ["regenerate g3>g1", "regenerate g3>g2"]),
        ["chain of three, end accepted"] = (() => ChainOfThree().Accepted("g3"), ["regenerate g3>g1", "regenerate g3>g2"]),
        ["chain of three, end thumbed up"] = (() => ChainOfThree().ThumbUp("g3"), ["regenerate g3>g1", "regenerate g3>g2"]),
        ["chain of three, end rated 5"] = (() => ChainOfThree().Rated("g3", 5), ["regenerate g3>g1", "regenerate g3>g2"]),
        ["chain of three, positive on the middle member"] = (() => ChainOfThree().Copied("g2").ThumbUp("g2").Ended(), []),
        ["chain of three, no positive signal"] = (() => ChainOfThree().Dwelled("g3", 5_000).Ended(), []),
        ["chain end thumbed down"] = (() => ChainOfTwo().ThumbDown("g2").Ended(), []),
        ["chain end rated 3"] = (() => ChainOfTwo().Rated("g2", 3).Ended(), []),
        ["chain end rated 2"] = (() => ChainOfTwo().Rated("g2", 2).Ended(), []),
        ["chain end dismissed"] = (() => ChainOfTwo().Dismissed("g2").Ended(), []),
        ["first member praised before it was replaced"] = (() => new SessionScript()
            .Shown("g1").Copied("g1").Regenerated("g1", "g2").Shown("g2").Ended(),
            []),
        ["chain with a member never shown"] = (() => new SessionScript()
            .Shown("g1").Regenerated("g1", "g2").Regenerated("g2", "g3").Shown("g3").Copied("g3").Ended(),
            []),
        ["chain whose missing member is shown after the positive"] = (() => new SessionScript()
            .Shown("g1").Regenerated("g1", "g2").Regenerated("g2", "g3").Shown("g3").Copied("g3").Shown("g2"),
            ["regenerate g3>g1", "regenerate g3>g2"]),
        ["end praised before the regenerate event is delivered"] = (() => new SessionScript()
            .Shown("g1").Shown("g2").Copied("g2").Regenerated("g1", "g2"),
            ["regenerate g2>g1"]),
        ["earlier link delivered after the end was praised"] = (() => new SessionScript()
            .Shown("g1").Shown("g2").Shown("g3").Regenerated("g2", "g3").Copied("g3").Regenerated("g1", "g2"),
            ["regenerate g3>g1", "regenerate g3>g2"]),

        // Rule 4: thumbs contrast (fires when the session resolves)
        ["thumbs up and down on identical input"] = (() => new SessionScript()
            .Shown("a").Shown("b").ThumbUp("a").ThumbDown("b").Ended(),
            ["thumbs a>b"]),
        ["thumbs up and down on different inputs"] = (() => new SessionScript()
            .Shown("a", question: "Capital of France?").Shown("b", question: "Capital of Spain?").ThumbUp("a").ThumbDown("b").Ended(),
            []),
        ["thumbs on inputs that differ only in the system message"] = (() => new SessionScript()
            .Shown("a", prompt: [new ConversationTurn("system", "Be brief."), new ConversationTurn("user", "Capital of France?")])
            .Shown("b", prompt: [new ConversationTurn("system", "Be verbose."), new ConversationTurn("user", "Capital of France?")])
            .ThumbUp("a").ThumbDown("b").Ended(),
            []),
        ["thumbs on inputs where one has an extra message"] = (() => new SessionScript()
            .Shown("a", prompt: [new ConversationTurn("user", "Capital of France?")])
            .Shown("b", prompt: [new ConversationTurn("user", "Capital of France?"), new ConversationTurn("user", "Capital of France?")])
            .ThumbUp("a").ThumbDown("b").Ended(),
            []),
        ["thumb down flipped to up, so both are up"] = (() => new SessionScript()
            .Shown("a").Shown("b").ThumbUp("a").ThumbDown("b").ThumbUp("b").Ended(),
            []),
        ["latest thumb wins although delivered out of order"] = (() => new SessionScript()
            .Shown("a").Shown("b")
            .At(TimeSpan.FromSeconds(30)).ThumbDown("a")
            .At(TimeSpan.FromSeconds(10)).ThumbUp("a")
            .At(TimeSpan.FromSeconds(20)).ThumbUp("b")
            .At(TimeSpan.FromSeconds(40)).Ended(),
            ["thumbs b>a"]),
        ["thumbs from two different users"] = (() => new SessionScript()
            .Shown("a").Shown("b").As("u1").ThumbUp("a").As("u2").ThumbDown("b").Ended(),
            []),
        ["thumb down on a generation never shown"] = (() => new SessionScript()
            .Shown("a").ThumbUp("a").ThumbDown("b").Ended(),
            []),
        ["one thumb up against two thumbs down"] = (() => new SessionScript()
            .Shown("a").Shown("b").Shown("c").ThumbDown("b").ThumbUp("a").ThumbDown("c").Ended(),
            ["thumbs a>b", "thumbs a>c"]),
    };

    public static TheoryData<string> ScenarioNames => new(Scenarios.Keys);

    private static SessionScript ChainOfTwo() => new SessionScript().Shown("g1").Regenerated("g1", "g2").Shown("g2");

    private static SessionScript ChainOfThree() =>
        new SessionScript().Shown("g1").Regenerated("g1", "g2").Shown("g2").Regenerated("g2", "g3").Shown("g3");

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public void Session_yields_exactly_the_pairs_in_the_table(string scenario)
    {
        var (script, expected) = Scenarios[scenario];

        var extractor = script().Run();
        // Rules 1–3 fire as soon as their generations are shown; rule 4's scenarios end their session.
        var beforeResolution = Rows.PairsOf(extractor);
        extractor.ResolveAll();

        Assert.Equal(Rows.Sorted(expected), beforeResolution);
        Assert.Equal(Rows.Sorted(expected), Rows.PairsOf(extractor));
    }

    [Fact]
    public void Comparison_pair_is_created_by_the_choosing_user_at_the_choice_time()
    {
        var script = new SessionScript(userId: "viewer")
            .Shown("a", "Paris.", candidateSet: "cs", model: "model-a")
            .Shown("b", "Lyon.", candidateSet: "cs", model: "model-b")
            .As("chooser").At(TimeSpan.FromSeconds(42)).Chose("cs", "a");

        var pair = Assert.Single(script.Run().Output.Pairs);

        Assert.Equal(StableId.Pair(PairSignals.Comparison, "a", "b"), pair.PairId);
        Assert.Equal("app", pair.AppId);
        Assert.Equal(SessionScript.Prompt(), pair.Prompt);
        Assert.Equal(new ConversationTurn("assistant", "Paris."), pair.Chosen);
        Assert.Equal(new ConversationTurn("assistant", "Lyon."), pair.Rejected);
        Assert.Equal(PairSignals.Comparison, pair.Signal);
        Assert.Equal(1.0, pair.Weight);
        Assert.Equal(("a", "b"), (pair.ChosenGenerationId, pair.RejectedGenerationId));
        Assert.Equal(("model-a", "model-b"), (pair.ChosenModelVersion, pair.RejectedModelVersion));
        Assert.Equal("s1", pair.SessionId);
        Assert.Equal("chooser", pair.UserId);
        Assert.Equal(SessionScript.T0.AddSeconds(42), pair.CreatedAt);
    }

    [Fact]
    public void Edit_pair_prefers_the_user_text_and_names_the_edit_event_as_chosen()
    {
        var script = new SessionScript()
            .Shown("g1", Answer, model: "model-a")
            .At(TimeSpan.FromMinutes(2)).Edited("g1", AnswerShortened, eventId: "edit-1");

        var pair = Assert.Single(script.Run().Output.Pairs);

        Assert.Equal(StableId.Pair(PairSignals.Edit, "edit-1", "g1"), pair.PairId);
        Assert.Equal(new ConversationTurn("assistant", AnswerShortened), pair.Chosen);
        Assert.Equal(new ConversationTurn("assistant", Answer), pair.Rejected);
        Assert.Equal(("edit-1", "g1"), (pair.ChosenGenerationId, pair.RejectedGenerationId));
        Assert.Equal((PreferencePair.UserEditModelVersion, "model-a"), (pair.ChosenModelVersion, pair.RejectedModelVersion));
        Assert.Equal("user-edit", pair.ChosenModelVersion);
        Assert.Equal(SessionScript.Prompt(), pair.Prompt);
        Assert.Equal(SessionScript.T0.AddMinutes(2), pair.CreatedAt);
    }

    [Fact]
    public void Edits_outside_the_band_are_counted_and_yield_no_pair()
    {
        var extractor = new SessionScript()
            .Shown("g1", Answer).Edited("g1", AnswerWithTypo)
            .Shown("g2", Answer).Edited("g2", AnswerRewritten)
            .Shown("g3", Answer).Edited("g3", AnswerShortened)
            .RunToEnd();

        Assert.Equal(2, extractor.Counters.EditsOutsideBand);
        Assert.Equal(["edit s1-e6>g3"], Rows.PairsOf(extractor));
    }

    [Fact]
    public void Regenerate_pair_is_created_by_the_praising_user_at_the_positive_signal_time()
    {
        var script = new SessionScript(userId: "writer")
            .Shown("g1", "First try.", model: "model-a").Regenerated("g1", "g2").Shown("g2", "Second try.", model: "model-b")
            .As("reader").At(TimeSpan.FromMinutes(5)).Copied("g2");

        var pair = Assert.Single(script.Run().Output.Pairs);

        Assert.Equal(StableId.Pair(PairSignals.Regenerate, "g2", "g1"), pair.PairId);
        Assert.Equal(new ConversationTurn("assistant", "Second try."), pair.Chosen);
        Assert.Equal(new ConversationTurn("assistant", "First try."), pair.Rejected);
        Assert.Equal(("model-b", "model-a"), (pair.ChosenModelVersion, pair.RejectedModelVersion));
        Assert.Equal("reader", pair.UserId);
        Assert.Equal(SessionScript.T0.AddMinutes(5), pair.CreatedAt);
    }

    [Fact]
    public void Thumbs_pair_is_created_at_the_later_of_the_two_thumbs()
    {
        var script = new SessionScript()
            .Shown("a").Shown("b")
            .At(TimeSpan.FromMinutes(7)).ThumbDown("b")
            .At(TimeSpan.FromMinutes(3)).ThumbUp("a")
            .At(TimeSpan.FromMinutes(8)).Ended();

        var pair = Assert.Single(script.Run().Output.Pairs);

        Assert.Equal(StableId.Pair(PairSignals.Thumbs, "a", "b"), pair.PairId);
        Assert.Equal(("a", "b"), (pair.ChosenGenerationId, pair.RejectedGenerationId));
        Assert.Equal("u1", pair.UserId);
        Assert.Equal(SessionScript.T0.AddMinutes(7), pair.CreatedAt);
    }

    [Fact]
    public void Thumbs_contrast_waits_until_the_session_resolves()
    {
        var script = new SessionScript().Shown("a").Shown("b").ThumbUp("a").ThumbDown("b");
        var extractor = script.Run();

        Assert.Empty(extractor.Output.Pairs);

        var ended = script.Ended().Events[^1];
        extractor.Process(0, script.Events.Count - 1, ended);

        Assert.Equal(["thumbs a>b"], Rows.PairsOf(extractor));
    }

    [Fact]
    public void Configured_weight_is_given_to_its_signal_only()
    {
        var settings = new ExtractionSettings { Rules = RuleBook.Uniform(new AppRules(AppRules.Builtin.EnabledSignals, new Dictionary<string, double> { [PairSignals.Comparison] = 2.5 })) };
        var extractor = new SessionScript()
            .Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs").Chose("cs", "a")
            .Shown("g1", Answer).Edited("g1", AnswerShortened)
            .RunToEnd(settings);

        Assert.Equal(2.5, extractor.Output.Pairs.Single(p => p.Signal == PairSignals.Comparison).Weight);
        Assert.Equal(1.0, extractor.Output.Pairs.Single(p => p.Signal == PairSignals.Edit).Weight);
    }

    [Fact]
    public void Disabled_signal_yields_no_pair()
    {
        var settings = new ExtractionSettings { Rules = RuleBook.Uniform(new AppRules([PairSignals.Comparison])) };
        var extractor = ChainOfTwo().Copied("g2").Shown("g3", Answer).Edited("g3", AnswerShortened)
            .Shown("a").Shown("b").ThumbUp("a").ThumbDown("b").Ended()
            .RunToEnd(settings);

        Assert.Empty(extractor.Output.Pairs);
    }

    [Fact]
    public void Signal_whose_generation_was_never_shown_is_counted_when_the_session_resolves()
    {
        var extractor = new SessionScript()
            .Shown("b", candidateSet: "cs").Chose("cs", "a")
            .Edited("g9", AnswerShortened)
            .Run();

        Assert.Equal(0, extractor.Counters.SignalsNeverResolved);
        extractor.ResolveAll();
        Assert.Equal(2, extractor.Counters.SignalsNeverResolved);
    }
}
