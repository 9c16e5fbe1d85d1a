using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests.Support;

/// <summary>
/// One session's events in delivery order, written as a sentence:
/// <c>new SessionScript().Shown("g1").Regenerated("g1", "g2").Shown("g2").Copied("g2")</c>.
/// Each event gets the next event id and an occurred_at one second after the previous one, unless
/// <see cref="At"/> or <see cref="After"/> moves the clock; <see cref="Feed"/> gives them increasing offsets.
/// </summary>
internal sealed class SessionScript
{
    /// <summary>A minute boundary, so engagement windows in tests start exactly here.</summary>
    public static DateTimeOffset T0 { get; } = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    public const string DefaultQuestion = "What is the capital of France?";
    public const string DefaultModel = "model-a";

    private readonly List<FeedbackEvent> _events = [];
    private readonly DateTimeOffset _start;
    private DateTimeOffset _clock;
    private readonly string _eventIdPrefix;
    private string _userId;

    /// <param name="sessionId">The session every event belongs to.</param>
    /// <param name="userId">The user of the events until <see cref="As"/> changes it.</param>
    /// <param name="appId">The app every event belongs to.</param>
    /// <param name="start">The first event's occurred_at (default <see cref="T0"/>).</param>
    /// <param name="eventIds">Prefix of the generated event ids (default: the session id); give a second
    /// script of the same session its own prefix, or its events are duplicates of the first one's.</param>
    public SessionScript(string sessionId = "s1", string userId = "u1", string appId = "app", DateTimeOffset? start = null, string? eventIds = null)
    {
        SessionId = sessionId;
        _eventIdPrefix = eventIds ?? sessionId;
        AppId = appId;
        _userId = userId;
        _start = start ?? T0;
        _clock = _start;
    }

    public string SessionId { get; }
    public string AppId { get; }
    public IReadOnlyList<FeedbackEvent> Events => _events;

    /// <summary>The occurred_at the next event will get.</summary>
    public DateTimeOffset Clock => _clock;

    /// <summary>The prompt a generation shown with <paramref name="question"/> carries.</summary>
    public static IReadOnlyList<ConversationTurn> Prompt(string question = DefaultQuestion) =>
        [new ConversationTurn("system", "You are a helpful assistant."), new ConversationTurn("user", question)];

    /// <summary>The following events are by <paramref name="userId"/>.</summary>
    public SessionScript As(string userId)
    {
        _userId = userId;
        return this;
    }

    /// <summary>The next event occurs <paramref name="sinceStart"/> after the script's start (earlier times model out-of-order delivery).</summary>
    public SessionScript At(TimeSpan sinceStart)
    {
        _clock = _start + sinceStart;
        return this;
    }

    /// <summary>The next event occurs <paramref name="gap"/> later than it otherwise would.</summary>
    public SessionScript After(TimeSpan gap)
    {
        _clock += gap;
        return this;
    }

    public SessionScript Shown(
        string generationId, string? output = null, string question = DefaultQuestion, string? candidateSet = null,
        string model = DefaultModel, string? variant = null, IReadOnlyList<ConversationTurn>? prompt = null) =>
        Add(new GenerationShown(generationId, model, prompt ?? Prompt(question), output ?? "Answer " + generationId,
            Variant: variant, CandidateSetId: candidateSet));

    public SessionScript ThumbUp(string generationId) => Add(new ThumbGiven(generationId, ThumbValue.Up));
    public SessionScript ThumbDown(string generationId) => Add(new ThumbGiven(generationId, ThumbValue.Down));
    public SessionScript Rated(string generationId, int score) => Add(new RatingGiven(generationId, score));
    public SessionScript Regenerated(string generationId, string replacementId) => Add(new GenerationRegenerated(generationId, replacementId));
    public SessionScript Edited(string generationId, string editedOutput, string? eventId = null) => Add(new GenerationEdited(generationId, editedOutput), eventId);
    public SessionScript Copied(string generationId) => Add(new GenerationCopied(generationId));
    public SessionScript Accepted(string generationId) => Add(new GenerationAccepted(generationId));
    public SessionScript Dismissed(string generationId) => Add(new GenerationRejected(generationId));
    public SessionScript Chose(string candidateSet, string generationId) => Add(new ComparisonChosen(candidateSet, generationId));
    public SessionScript Dwelled(string generationId, long visibleMs) => Add(new GenerationDwell(generationId, visibleMs));
    public SessionScript Ended() => Add(SessionEnded.Instance);

    /// <summary>The last event delivered again, same event id (a producer retry).</summary>
    public SessionScript Redelivered()
    {
        _events.Add(_events[^1]);
        return this;
    }

    /// <summary>The last event's data sent again as a new event (new id, one second later): the user clicked twice.</summary>
    public SessionScript SentAgain() => Add(_events[^1].Data);

    /// <summary>Offers every event to <paramref name="extractor"/> in order, at offsets from <paramref name="firstOffset"/>.</summary>
    public IReadOnlyList<ProcessOutcome> Feed(Extractor extractor, int partition = 0, long firstOffset = 0)
    {
        var outcomes = new List<ProcessOutcome>(_events.Count);
        for (var i = 0; i < _events.Count; i++) outcomes.Add(extractor.Process(partition, firstOffset + i, _events[i]));
        return outcomes;
    }

    /// <summary>A fresh extractor fed this script and nothing else, sessions still open.</summary>
    public Extractor Run(ExtractionSettings? settings = null)
    {
        var extractor = new Extractor(settings);
        Feed(extractor);
        return extractor;
    }

    /// <summary>A fresh extractor fed this script, then resolved as if the stream had ended.</summary>
    public Extractor RunToEnd(ExtractionSettings? settings = null)
    {
        var extractor = Run(settings);
        extractor.ResolveAll();
        return extractor;
    }

    private SessionScript Add(EventData data, string? eventId = null)
    {
        _events.Add(new FeedbackEvent(eventId ?? $"{_eventIdPrefix}-e{_events.Count + 1}", AppId, SessionId, _userId, _clock, data));
        _clock += TimeSpan.FromSeconds(1);
        return this;
    }
}
