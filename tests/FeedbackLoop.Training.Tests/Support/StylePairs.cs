using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Training.Tests.Support;

/// <summary>
/// A fixed synthetic preference dataset: users prefer concise answers with a concrete example over rambling, hedging
/// ones. Topics of the held-out pairs never appear in training, so a model passes only by learning the style.
/// </summary>
internal static class StylePairs
{
    private static readonly (string Task, string Answer, string Example)[] Topics =
    [
        ("reverse a list in Python", "Use slicing with a step of -1", "items[::-1]"),
        ("count lines in a file", "Pipe the file to wc with the line flag", "wc -l notes.txt"),
        ("undo the last git commit", "Reset softly to the parent commit", "git reset --soft HEAD~1"),
        ("join strings in C#", "Call string.Join with a separator", "string.Join(\", \", names)"),
        ("sort a dictionary by value", "Sort its items with a key function", "sorted(d.items(), key=lambda kv: kv[1])"),
        ("find large files on Linux", "Use find with a size filter", "find / -size +100M"),
        ("parse JSON in JavaScript", "Use JSON.parse on the string", "JSON.parse('{\"a\":1}')"),
        ("read an environment variable in Go", "Call os.Getenv with the name", "os.Getenv(\"HOME\")"),
        ("center a div with CSS", "Make the parent a flex container", "display:flex; justify-content:center"),
        ("list Docker containers", "Run docker ps with the all flag", "docker ps -a"),
        ("format a date in C#", "Pass a format string to ToString", "now.ToString(\"yyyy-MM-dd\")"),
        ("remove duplicates from a list", "Build a set and convert back", "list(set(items))"),
        ("check disk usage", "Use df with human-readable sizes", "df -h"),
        ("make an HTTP request in Python", "Use requests.get and read the body", "requests.get(url).text"),
        ("create a branch in git", "Use switch with the create flag", "git switch -c feature"),
        ("measure time in Java", "Take System.nanoTime before and after", "long t = System.nanoTime();"),
        ("round a number in JavaScript", "Use toFixed for a fixed number of decimals", "(3.14159).toFixed(2)"),
        ("compress a folder", "Use tar with gzip", "tar -czf backup.tgz folder/"),
        ("split a string in Rust", "Call split on the string slice", "line.split(',')"),
        ("kill a process by port", "Find the pid with lsof, then kill it", "kill $(lsof -t -i:8080)"),
        ("convert a string to an int in C#", "Use int.Parse or int.TryParse", "int.TryParse(text, out var n)"),
        ("get the length of an array in Go", "Call the built-in len", "len(values)"),
        ("rename a column in pandas", "Use rename with a columns mapping", "df.rename(columns={'a': 'b'})"),
        ("copy a file over SSH", "Use scp with the remote path", "scp file.txt host:/tmp/"),
        ("merge two dictionaries in Python", "Use the union operator", "merged = a | b"),
        ("trim whitespace in Java", "Call strip on the string", "name.strip()"),
        ("show hidden files", "Use ls with the all flag", "ls -a"),
        ("add an index in SQL", "Use CREATE INDEX on the column", "CREATE INDEX ix_user ON orders(user_id);"),
        ("read a file in Node", "Use fs.readFileSync with an encoding", "fs.readFileSync('a.txt', 'utf8')"),
        ("generate a UUID in C#", "Call Guid.NewGuid", "Guid.NewGuid()"),
    ];

    private static readonly string[] ConciseOpeners = ["", "Short answer: ", "Here you go: ", "Simple: "];
    private static readonly string[] ExampleLeads = ["For example:", "Example:", "e.g.", "Like this:"];
    private static readonly string[] Hedges =
    [
        "Well, it really depends on a lot of things,",
        "I'm not entirely sure, but perhaps",
        "There are many possible approaches and I might be wrong, but",
        "Generally speaking, and this may vary,",
        "It's hard to say for certain, however",
    ];
    private static readonly string[] Fillers =
    [
        "you might want to consider various factors before deciding anything",
        "it could be worth thinking about your specific situation in more depth",
        "there are several considerations that may or may not apply here",
        "different people have different opinions about this kind of thing",
        "it is probably a good idea to consult the documentation at some point",
    ];

    private static readonly DateTimeOffset CreatedAt = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Training pairs over the first 20 topics: 300 pairs, about 10% of them with the labels flipped.</summary>
    public static IReadOnlyList<PreferencePair> Train() => Build(seed: 11, count: 300, firstTopic: 0, topicCount: 20, flipRate: 0.1);

    /// <summary>Held-out pairs over the last 10 topics, clean labels.</summary>
    public static IReadOnlyList<PreferencePair> HeldOut() => Build(seed: 23, count: 100, firstTopic: 20, topicCount: 10, flipRate: 0);

    /// <summary>One pair in the preferred direction for each of the first <paramref name="count"/> topics.</summary>
    public static IReadOnlyList<PreferencePair> Tiny(int count) => Build(seed: 5, count, firstTopic: 0, topicCount: count, flipRate: 0);

    /// <summary>A pair with the given texts, for edge cases.</summary>
    public static PreferencePair Pair(string id, string chosen, string rejected, double weight = 1.0) => new(
        id, "app", [new ConversationTurn("user", "How do I do it?")], new ConversationTurn("assistant", chosen), new ConversationTurn("assistant", rejected),
        PairSignals.Comparison, weight, $"{id}-c", $"{id}-r", "model-a", "model-b", "s1", "u1", CreatedAt);

    private static PreferencePair[] Build(int seed, int count, int firstTopic, int topicCount, double flipRate)
    {
        var random = new Random(seed);
        var pairs = new PreferencePair[count];
        for (var i = 0; i < count; i++)
        {
            var (task, answer, example) = Topics[firstTopic + random.Next(topicCount)];
            var concise = $"{Pick(random, ConciseOpeners)}{answer}. {Pick(random, ExampleLeads)} `{example}`";
            var rambling = $"{Pick(random, Hedges)} when you want to {task} {Pick(random, Fillers)}, and {Pick(random, Fillers)}. " +
                $"{answer.ToLowerInvariant()} might work, or it might not.";
            var flipped = random.NextDouble() < flipRate;
            var (chosen, rejected) = flipped ? (rambling, concise) : (concise, rambling);
            var chosenId = $"g-{seed}-{i}-a";
            var rejectedId = $"g-{seed}-{i}-b";
            pairs[i] = new PreferencePair(
                StableId.Pair(PairSignals.Comparison, chosenId, rejectedId), "app",
                [new ConversationTurn("user", $"How do I {task}?")],
                new ConversationTurn("assistant", chosen), new ConversationTurn("assistant", rejected),
                PairSignals.Comparison, Weight: random.Next(2) == 0 ? 1.0 : 0.5,
                chosenId, rejectedId, "model-a", "model-b", $"s-{i}", $"u-{i % 17}", CreatedAt.AddMinutes(i));
        }
        return pairs;
    }

    private static string Pick(Random random, string[] options) => options[random.Next(options.Length)];
}
