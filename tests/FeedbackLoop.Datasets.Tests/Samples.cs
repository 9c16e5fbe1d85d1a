using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>Rows as the extractor would drain them, with the awkward parts a file format can lose.</summary>
internal static class Samples
{
    public const string Shop = "shop";
    public const string Docs = "docs";

    /// <summary>Not UTC and not on a microsecond: 0.1234567 s past the second (the column keeps 0.123456).</summary>
    public static DateTimeOffset Start { get; } = new DateTimeOffset(2025, 3, 3, 11, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);

    public static IReadOnlyList<ConversationTurn> Prompt { get; } =
    [
        new ConversationTurn("system", "You are a helpful assistant."),
        new ConversationTurn("user", "Quelle est la capitale de la France ? 🇫🇷"),
        new ConversationTurn("assistant", ""),
        new ConversationTurn("user", "Line one\nline two\ttabbed \"quoted\""),
    ];

    public static DateTimeOffset ToMicroseconds(DateTimeOffset at) =>
        new(at.UtcTicks - (at.UtcTicks % 10), TimeSpan.Zero);

    public static PreferencePair Pair(string appId, string chosenId, DateTimeOffset at, string signal = PairSignals.Comparison) => new(
        StableId.Pair(signal, chosenId, chosenId + "-rejected"), appId, Prompt,
        new ConversationTurn("assistant", "Paris."), new ConversationTurn("assistant", "Lyon."),
        signal, 1.0, chosenId, chosenId + "-rejected", "model-a", "model-b", "session-1", "user-1", at);

    public static ExtractionOutput Output()
    {
        var output = new ExtractionOutput();
        output.Pairs.Add(Pair(Shop, "g1", Start));
        output.Pairs.Add(Pair(Shop, "g2", Start.AddMinutes(1).AddTicks(9), PairSignals.Thumbs) with { Weight = 2.5 });
        output.Pairs.Add(new PreferencePair(
            StableId.Pair(PairSignals.Edit, "edit-event-1", "g3"), Shop, [new ConversationTurn("user", "Capital of Spain?")],
            new ConversationTurn("assistant", "Madrid."), new ConversationTurn("assistant", "Madrid, I think."),
            PairSignals.Edit, 1.0, "edit-event-1", "g3", PreferencePair.UserEditModelVersion, "model-a", "session-2", "user-2",
            Start.AddHours(1)));
        output.Pairs.Add(Pair(Docs, "d1", Start));

        output.Labels.Add(new FeedbackLabel(StableId.Label("g1", "user-1"), Shop, Prompt, new ConversationTurn("assistant", "Paris."),
            true, "g1", "model-a", "session-1", "user-1", Start.AddTicks(3)));
        output.Labels.Add(new FeedbackLabel(StableId.Label("g2", "user-1"), Shop, Prompt, new ConversationTurn("assistant", "Lyon."),
            false, "g2", "model-b", "session-1", "user-1", Start.AddSeconds(30)));
        output.Labels.Add(new FeedbackLabel(StableId.Label("d1", "user-9"), Docs, Prompt, new ConversationTurn("assistant", "Read the docs."),
            false, "d1", "model-a", "session-9", "user-9", Start));

        var minute = new DateTimeOffset(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);
        output.Windows.Add(new EngagementWindow(
            StableId.Of("engagement", Shop, "model-a|blue|0"), Shop, "model-a", "blue", minute, minute.AddMinutes(1),
            10, 3, 2, 1, 1, 4, 0, 1, 2, 3, 5, 120.0, 900.0, 1500.0, 0));
        output.Windows.Add(new EngagementWindow(
            StableId.Of("engagement", Shop, "model-b||0"), Shop, "model-b", "", minute, minute.AddMinutes(1),
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, null, null, null, 1));
        output.Windows.Add(new EngagementWindow(
            StableId.Of("engagement", Docs, "model-a||0"), Docs, "model-a", "", minute.AddMinutes(1), minute.AddMinutes(2),
            2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 42.0, 42.0, 42.0, 0));
        return output;
    }

    public static int RowCount(ExtractionOutput output) => output.Pairs.Count + output.Labels.Count + output.Windows.Count;
}
