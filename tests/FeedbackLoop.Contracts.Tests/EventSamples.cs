namespace FeedbackLoop.Contracts.Tests;

/// <summary>Valid events, at least one of every v1 type, built as records the way the SDK builds them.</summary>
internal static class EventSamples
{
    // Microsecond precision: the resolution EventJson writes, so a round trip is exact.
    private static readonly DateTimeOffset At = new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    private static FeedbackEvent Event(EventData data, DateTimeOffset? at = null) =>
        new("01943b8e-7c2a-7d4f-9b1e-3f6a2c8d9e01", "chat-app_v2.prod", "session-42", "user-7f3a", at ?? At, data);

    public static IReadOnlyDictionary<string, FeedbackEvent> All { get; } = new Dictionary<string, FeedbackEvent>
    {
        ["generation.shown with every field"] = Event(new GenerationShown(
            "gen-1",
            "llama-3.1-8b@2026-01-30",
            [new ConversationTurn("system", "Be brief."), new ConversationTurn("user", "Capital of France?"),
             new ConversationTurn("assistant", "Paris."), new ConversationTurn("tool", "{\"ok\":true}")],
            "Paris — \"la Ville Lumière\".",
            PromptVersion: "p-3",
            Variant: "B",
            CandidateSetId: "cand-9",
            Position: 1,
            LatencyMs: 812)),
        ["generation.shown with required fields only"] = Event(new GenerationShown(
            "gen-2", "m-1", [new ConversationTurn("user", "")], "")),
        ["feedback.thumb up"] = Event(new ThumbGiven("gen-1", ThumbValue.Up)),
        ["feedback.thumb down"] = Event(new ThumbGiven("gen-1", ThumbValue.Down)),
        ["feedback.rating"] = Event(new RatingGiven("gen-1", 5)),
        ["generation.regenerated"] = Event(new GenerationRegenerated("gen-1", "gen-2")),
        ["generation.edited"] = Event(new GenerationEdited("gen-1", "Paris, France.")),
        ["generation.copied"] = Event(new GenerationCopied("gen-1")),
        ["generation.accepted"] = Event(new GenerationAccepted("gen-1")),
        ["generation.rejected"] = Event(new GenerationRejected("gen-1")),
        ["comparison.chosen"] = Event(new ComparisonChosen("cand-9", "gen-1")),
        ["generation.dwell"] = Event(new GenerationDwell("gen-1", 0)),
        ["session.ended"] = Event(SessionEnded.Instance),
        // A client clock in another zone still goes on the wire as UTC.
        ["generation.copied from a +02:00 clock"] = Event(
            new GenerationCopied("gen-1"), new DateTimeOffset(2026, 1, 31, 14, 0, 0, TimeSpan.FromHours(2))),
    };

    public static TheoryData<string> Names() => [.. All.Keys];
}
