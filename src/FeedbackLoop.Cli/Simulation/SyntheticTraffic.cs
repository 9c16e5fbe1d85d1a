using FeedbackLoop.Contracts;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>
/// Deterministic, realistic-looking event streams for benchmarks and smoke runs: every rule fires, texts
/// have chat-like lengths, and event time advances so that sessions end and engagement windows close.
/// </summary>
internal static class SyntheticTraffic
{
    private static readonly string[] Prompts =
    [
        "Summarize the attached quarterly report in three bullet points for the leadership team.",
        "Write a polite follow-up e-mail to a customer whose refund has been delayed by two weeks.",
        "Explain the difference between a process and a thread to a new engineer, with an example.",
        "Suggest a name for a coffee shop that doubles as a bookstore in a small seaside town.",
        "Translate 'the meeting has been moved to Thursday afternoon' into French and German.",
        "Draft a short product description for noise-cancelling headphones aimed at commuters.",
    ];

    private static readonly string[] Answers =
    [
        "Revenue grew 12% quarter over quarter, driven by the enterprise tier; churn fell to 2.1%; hiring is paused until Q3 while the new onboarding flow ships.",
        "Dear customer, thank you for your patience. Your refund was approved on Monday and will reach your account within three business days. We are sorry for the delay.",
        "A process owns its memory and resources; threads share the memory of the process they live in. Two browser tabs as processes, and a tab's renderer and network threads.",
        "Chapter & Crema, The Tidal Page, Salt and Spine, Driftwood Reads, or Harbor Leaf Books & Brew, each evoking the sea and the quiet of a good book.",
        "French: la réunion a été déplacée à jeudi après-midi. German: das Meeting wurde auf Donnerstagnachmittag verschoben.",
        "Block out the train and hear only your music: adaptive noise cancelling, 30-hour battery, and a fold-flat design that slips into any bag.",
    ];

    /// <summary>Events of <paramref name="sessions"/> sessions, about six each, in per-session order.</summary>
    public static IEnumerable<FeedbackEvent> Sessions(int sessions, string appId = "bench", DateTimeOffset? start = null, int seed = 7)
    {
        var origin = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < sessions; i++)
        {
            var session = $"s-{seed}-{i}";
            var user = $"u-{i % 997}";
            var at = origin + TimeSpan.FromMilliseconds(50.0 * i);
            var prompt = Prompts[i % Prompts.Length];
            var input = (IReadOnlyList<ConversationTurn>)[new ConversationTurn("system", "You are a helpful assistant."), new ConversationTurn("user", prompt)];
            var n = 0;
            FeedbackEvent E(EventData data) => new($"{session}-{n++}", appId, session, user, at += TimeSpan.FromSeconds(2), data);
            string G(int k) => $"{session}-g{k}";
            string A(int k) => Answers[(i + k) % Answers.Length];
            var model = i % 2 == 0 ? "m-1" : "m-2";

            switch (i % 5)
            {
                case 0:
                    yield return E(new GenerationShown(G(1), model, input, A(0), Variant: "a"));
                    yield return E(new GenerationDwell(G(1), 800 + (i % 40) * 100));
                    yield return E(new ThumbGiven(G(1), i % 3 == 0 ? ThumbValue.Down : ThumbValue.Up));
                    break;
                case 1:
                    yield return E(new GenerationShown(G(1), "m-1", input, A(0), CandidateSetId: session + "-c", Position: 0));
                    yield return E(new GenerationShown(G(2), "m-2", input, A(1), CandidateSetId: session + "-c", Position: 1));
                    yield return E(new ComparisonChosen(session + "-c", i % 4 == 1 ? G(1) : G(2)));
                    break;
                case 2:
                    yield return E(new GenerationShown(G(1), model, input, A(0)));
                    yield return E(new GenerationRegenerated(G(1), G(2)));
                    yield return E(new GenerationShown(G(2), model, input, A(2)));
                    yield return E(new GenerationCopied(G(2)));
                    break;
                case 3:
                    yield return E(new GenerationShown(G(1), model, input, A(0)));
                    yield return E(new GenerationEdited(G(1), A(0).Replace("the", "our", StringComparison.Ordinal) + " Let me know if anything is unclear."));
                    yield return E(new GenerationAccepted(G(1)));
                    break;
                default:
                    yield return E(new GenerationShown(G(1), model, input, A(0)));
                    yield return E(new GenerationShown(G(2), model, input, A(3)));
                    yield return E(new ThumbGiven(G(1), ThumbValue.Up));
                    yield return E(new ThumbGiven(G(2), ThumbValue.Down));
                    yield return E(new RatingGiven(G(2), 2));
                    break;
            }
            yield return E(SessionEnded.Instance);
        }
    }
}
