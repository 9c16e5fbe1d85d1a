using Confluent.Kafka;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>Event scripts with known expected rows (the rules of docs/contract/rules.md), built the way an app would emit them.</summary>
internal sealed class SessionScript(string appId, string sessionId, string userId, DateTimeOffset start)
{
    private readonly List<FeedbackEvent> _events = [];
    private DateTimeOffset _clock = start;
    private int _n;

    public IReadOnlyList<FeedbackEvent> Events => _events;

    public static IReadOnlyList<ConversationTurn> Prompt(string text) => [new ConversationTurn("user", text)];

    public SessionScript Add(EventData data, TimeSpan? after = null)
    {
        _clock += after ?? TimeSpan.FromSeconds(1);
        _events.Add(new FeedbackEvent($"{sessionId}-e{++_n}", appId, sessionId, userId, _clock, data));
        return this;
    }

    public SessionScript Shown(string generationId, string prompt, string output, string? candidateSet = null, string model = "m1") =>
        Add(new GenerationShown(generationId, model, Prompt(prompt), output, CandidateSetId: candidateSet, Variant: "a"));

    public SessionScript End() => Add(SessionEnded.Instance);
}

/// <summary>A fixed mix of sessions that fires every rule once, with the rows docs/contract/rules.md says it yields.</summary>
internal static class KnownSessions
{
    public static readonly DateTimeOffset Start = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// <paramref name="sessions"/> side-by-side sessions of two answers with a choice, one pair each (rule 1), produced
    /// keyed by session to the events topic and flushed.
    /// </summary>
    public static void ProduceSideBySide(string bootstrap, int sessions)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        for (var i = 0; i < sessions; i++)
        {
            var set = $"set{i}";
            var script = new SessionScript("demo", $"s{i}", $"u{i % 50}", Start.AddSeconds(i))
                .Shown($"a{i}", $"Question {i}?", $"Answer {i}, short.", set).Shown($"b{i}", $"Question {i}?", $"Answer {i}, long and winding.", set)
                .Add(new ComparisonChosen(set, $"a{i}")).End();
            foreach (var e in script.Events)
            {
                producer.Produce(KafkaTopics.Events, new Message<string, byte[]> { Key = e.SessionId, Value = EventJson.SerializeToUtf8Bytes(e) });
            }
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
    }

    public static List<FeedbackEvent> All(string appId = "demo")
    {
        var events = new List<FeedbackEvent>();
        // Rule 1: a side-by-side choice among three → 2 pairs; the choice also thumbs up → 1 label.
        events.AddRange(new SessionScript(appId, "s-compare", "u1", Start)
            .Shown("c-a", "Name a color", "Blue", "set1").Shown("c-b", "Name a color", "Green", "set1").Shown("c-c", "Name a color", "Mauve", "set1")
            .Add(new ComparisonChosen("set1", "c-b")).Add(new ThumbGiven("c-b", ThumbValue.Up)).End().Events);
        // Rule 2: an edit inside the band → 1 pair.
        events.AddRange(new SessionScript(appId, "s-edit", "u2", Start)
            .Shown("e-1", "Greet the team", "Hello team, welcome to the weekly sync.")
            .Add(new GenerationEdited("e-1", "Hi team, welcome to our weekly planning sync!")).End().Events);
        // Rule 3: g1 → g2 → g3, g3 copied → 2 pairs.
        events.AddRange(new SessionScript(appId, "s-regen", "u3", Start)
            .Shown("r-1", "Tell a joke", "Knock knock.").Add(new GenerationRegenerated("r-1", "r-2"))
            .Shown("r-2", "Tell a joke", "Why did the chicken cross the road?").Add(new GenerationRegenerated("r-2", "r-3"))
            .Shown("r-3", "Tell a joke", "I would tell a UDP joke, but you might not get it.").Add(new GenerationCopied("r-3")).End().Events);
        // Rule 4 + 5: same input, up vs down → 1 thumbs pair and 2 labels; a rating of 2 elsewhere → 1 label.
        events.AddRange(new SessionScript(appId, "s-thumbs", "u4", Start)
            .Shown("t-1", "Summarize the memo", "The memo says nothing.").Shown("t-2", "Summarize the memo", "Budget is approved; hiring starts in May.")
            .Add(new ThumbGiven("t-1", ThumbValue.Down)).Add(new ThumbGiven("t-2", ThumbValue.Up))
            .Shown("t-3", "Translate hello", "Bonjour").Add(new RatingGiven("t-3", 2)).Add(new GenerationDwell("t-3", 1200)).End().Events);
        // A session 10 minutes later moves event time on, so the 09:00 engagement windows close.
        events.AddRange(new SessionScript(appId, "s-later", "u5", Start.AddMinutes(10))
            .Shown("l-1", "Anything", "Something").End().Events);
        return events;
    }

    /// <summary>Pairs by signal and labels the sessions above must yield.</summary>
    public static readonly IReadOnlyDictionary<string, int> ExpectedPairsBySignal = new Dictionary<string, int>
    {
        ["comparison"] = 2, ["edit"] = 1, ["regenerate"] = 2, ["thumbs"] = 1,
    };

    public const int ExpectedLabels = 4;
}
