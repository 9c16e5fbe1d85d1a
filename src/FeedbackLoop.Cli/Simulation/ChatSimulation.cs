using FeedbackLoop.Contracts;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>The style traits a simulated response can have; users have hidden tastes over them.</summary>
[Flags]
internal enum Traits
{
    None = 0,
    Concise = 1,
    Example = 2,
    Friendly = 4,
    Structured = 8,
}

/// <summary>A candidate response: its text and the traits the text was built from.</summary>
internal sealed record Candidate(string Text, Traits Traits);

/// <summary>
/// A simulated chat app's world: topics, a fixed candidate generator that offers K responses per prompt,
/// and users whose preferences over response traits are hidden from the pipeline. Everything is seeded,
/// so the same seed replays the same users, prompts and reactions.
/// </summary>
internal sealed class ChatWorld
{
    private static readonly string[] Topics =
    [
        "reset my password", "write a cover letter", "explain recursion", "plan a weekend in Lisbon", "fix a flaky unit test",
        "choose a laptop for video editing", "summarize a meeting", "learn basic Spanish phrases", "cook a vegetarian curry",
        "prepare for a job interview", "set up a home Wi-Fi network", "budget for a wedding", "start running as a beginner",
        "write a SQL join", "negotiate a salary", "understand compound interest",
    ];

    // The population's taste: concise answers with a concrete example, well structured, are liked most.
    private static readonly (Traits Trait, double Weight)[] PopulationTaste =
        [(Traits.Concise, 1.3), (Traits.Example, 1.1), (Traits.Structured, 0.8), (Traits.Friendly, 0.3)];

    private const double LikeThreshold = 1.6;

    private readonly double[][] _userTastes;

    public ChatWorld(int users, int seed)
    {
        var random = new Random(seed);
        _userTastes = new double[users][];
        for (var u = 0; u < users; u++)
            _userTastes[u] = PopulationTaste.Select(t => t.Weight + Gaussian(random) * 0.35).ToArray();
    }

    public int Users => _userTastes.Length;

    public static string Topic(int promptIndex) => Topics[promptIndex % Topics.Length];

    public static IReadOnlyList<ChatMessage> Prompt(int promptIndex) =>
        [new ChatMessage("user", $"How do I {Topic(promptIndex)}? (request {promptIndex % 97})")];

    /// <summary>The fixed candidate generator: K responses with distinct trait mixes, seeded by the prompt.</summary>
    public static IReadOnlyList<Candidate> Candidates(int promptIndex, int k, int seed)
    {
        var random = new Random(HashCode.Combine(seed, promptIndex));
        var mixes = Enumerable.Range(0, 16).OrderBy(_ => random.Next()).Take(k).Select(m => (Traits)m).ToList();
        return mixes.Select(t => new Candidate(Render(Topic(promptIndex), t), t)).ToList();
    }

    /// <summary>The probability that user <paramref name="user"/> likes a response with these traits.</summary>
    public double LikeProbability(int user, Traits traits)
    {
        var taste = _userTastes[user];
        var utility = 0.0;
        for (var i = 0; i < PopulationTaste.Length; i++)
        {
            if (traits.HasFlag(PopulationTaste[i].Trait)) utility += taste[i];
        }
        return 1 / (1 + Math.Exp(-2.2 * (utility - LikeThreshold)));
    }

    private static string Render(string topic, Traits traits)
    {
        var parts = new List<string>
        {
            traits.HasFlag(Traits.Friendly) ? "Happy to help! " : "Certainly. ",
        };
        if (traits.HasFlag(Traits.Structured))
            parts.Add($"To {topic}:\n- first, check what you already have\n- then, take the main step\n- finally, verify the result");
        else
            parts.Add($"To {topic}, start by checking what you already have, then take the main step and verify the result.");
        if (traits.HasFlag(Traits.Example)) parts.Add($"\nFor example, someone who wanted to {topic} did exactly this in ten minutes.");
        if (!traits.HasFlag(Traits.Concise))
            parts.Add("\nThere are, of course, many further considerations, caveats and alternative perspectives that may or may not apply, depending on circumstances, preferences and context, which is worth keeping in mind in general.");
        return string.Concat(parts);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
