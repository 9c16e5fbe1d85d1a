using FeedbackLoop.Contracts;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>A candidate response: its text and the style traits (a bit set) the text was built from.</summary>
internal sealed record Candidate(string Text, int Traits);

/// <summary>
/// A simulated chat app's world: topics, a fixed candidate generator that offers K responses per prompt,
/// and users whose preferences over response traits are hidden from the pipeline. Eight traits of similar
/// weight, each worded several ways, make preferences learnable but not from a handful of pairs, so the
/// loop has room to show progress. Everything is seeded: the same seed replays the same world.
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

    /// <summary>Per trait: the population's mean taste, and wordings with and without the trait.</summary>
    private static readonly (double Taste, string[] With, string[] Without)[] TraitTable =
    [
        (0.9, ["Keep it short.", "In brief:", "Quick answer:", "Short version:"], ["Let me walk you through the whole background first, at some length.", "There is a lot of ground to cover here, so bear with me.", "Before anything else, a long preamble is in order.", "Allow me to start from the very beginning."]),
        (0.8, ["For example, a friend did this in ten minutes.", "For instance, try it on a small case first.", "Say you start today: step one takes five minutes.", "Case in point: most people finish in an hour."], ["Examples vary too much to give one.", "No single example would do it justice.", "Specifics depend on your situation.", "It is hard to be concrete here."]),
        (0.7, ["- first step\n- second step\n- check the result", "1. first step\n2. second step\n3. check the result", "Steps: (a) start, (b) continue, (c) verify.", "Checklist: start, continue, verify."], ["You start, then you continue, and at some point you verify.", "Do the first part and the rest follows naturally.", "Work through it in whatever order feels right.", "Just go step by step in prose."]),
        (0.6, ["Here is a source you can check: the official guide.", "Documented in the official manual.", "See the vendor's reference page.", "The standard reference covers this."], ["Trust me on this one.", "Everybody knows this.", "It is common knowledge.", "No need to look it up."]),
        (0.5, ["Watch out: back up your data first.", "One caveat: it can fail if offline.", "Careful: this resets your settings.", "Note the risk: changes are permanent."], ["Nothing can go wrong.", "There are no risks at all.", "It always works.", "No caveats apply."]),
        (0.4, ["Happy to help!", "Great question!", "Glad you asked!", "Sure thing!"], ["Certainly.", "As requested.", "Noted.", "Understood."]),
        (0.35, ["Want me to go deeper on any step?", "Shall I tailor this to your setup?", "I can expand on any part.", "Ask if you want more detail."], ["That is all.", "End of answer.", "Nothing further.", "Done."]),
        (0.3, ["Summary: start small, then verify.", "TL;DR: do it in two steps.", "Bottom line: it takes an hour.", "In one line: back up, then proceed."], ["", "", "", ""]),
    ];

    public const int TraitCount = 8;
    private const double LikeThreshold = 2.3;

    /// <summary>
    /// The taste drift: afterwards users want thorough answers. "Keep it short" (trait 0) falls from the most liked trait
    /// to the seventh and "want me to go deeper" (trait 6) takes its place; each user keeps their own deviation from the
    /// population on every trait. The population's tastes are the same numbers in another order, so the drifted world is
    /// exactly as hard to please as before (random and oracle choosers score about the same), only differently.
    /// </summary>
    private static readonly int[] DriftedTraitOrder = [6, 1, 2, 3, 4, 5, 0, 7];

    // Per user, the deviation from the population's taste on each trait; drawn once, so both worlds have the same users.
    private readonly double[][] _deviations;

    public ChatWorld(int users, int seed)
    {
        var random = new Random(seed);
        _deviations = new double[users][];
        for (var u = 0; u < users; u++)
            _deviations[u] = TraitTable.Select(_ => Gaussian(random) * 0.3).ToArray();
    }

    public int Users => _deviations.Length;

    public static string Topic(int promptIndex) => Topics[promptIndex % Topics.Length];

    public static IReadOnlyList<ConversationTurn> Prompt(int promptIndex) =>
        [new ConversationTurn("user", $"How do I {Topic(promptIndex)}? (request {promptIndex % 97})")];

    /// <summary>The fixed candidate generator: K responses with distinct random trait mixes, seeded by the prompt.</summary>
    public static IReadOnlyList<Candidate> Candidates(int promptIndex, int k, int seed)
    {
        var random = new Random(HashCode.Combine(seed, promptIndex));
        var mixes = new HashSet<int>();
        while (mixes.Count < k) mixes.Add(random.Next(1 << TraitCount));
        return mixes.Select(t => new Candidate(Render(Topic(promptIndex), t, random), t)).ToList();
    }

    /// <summary>The probability that user <paramref name="user"/> likes a response with these traits, before or after the taste drift.</summary>
    public double LikeProbability(int user, int traits, bool drifted = false)
    {
        var deviation = _deviations[user];
        var utility = 0.0;
        for (var i = 0; i < TraitCount; i++)
        {
            if ((traits & (1 << i)) != 0) utility += TraitTable[drifted ? DriftedTraitOrder[i] : i].Taste + deviation[i];
        }
        return 1 / (1 + Math.Exp(-2.5 * (utility - LikeThreshold)));
    }

    private static string Render(string topic, int traits, Random random)
    {
        var lines = new List<string> { $"About how to {topic}:" };
        // Trait order is shuffled per response, so position carries no signal, only wording does.
        foreach (var i in Enumerable.Range(0, TraitCount).OrderBy(_ => random.Next()))
        {
            var options = (traits & (1 << i)) != 0 ? TraitTable[i].With : TraitTable[i].Without;
            var line = options[random.Next(options.Length)];
            if (line.Length > 0) lines.Add(line);
        }
        return string.Join('\n', lines);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
