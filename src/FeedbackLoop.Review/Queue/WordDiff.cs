namespace FeedbackLoop.Review.Queue;

/// <summary>One run of words in a diff: kept in both, only in the original (removed) or only in the edit (added).</summary>
public sealed record DiffPart(DiffKind Kind, string Text);

public enum DiffKind
{
    Same,
    Removed,
    Added,
}

/// <summary>
/// A word diff (longest common subsequence over whitespace-separated words) between a pair's rejected answer and the
/// user's edit. The table is words × words, so texts above <see cref="MaxWords"/> words are not diffed (null): the page
/// then shows both texts side by side only.
/// </summary>
public static class WordDiff
{
    public const int MaxWords = 2000;

    public static IReadOnlyList<DiffPart>? Of(string before, string after)
    {
        var a = before.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var b = after.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (a.Length > MaxWords || b.Length > MaxWords) return null;
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        }
        var parts = new List<DiffPart>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                Add(parts, DiffKind.Same, a[x++]);
                y++;
            }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1]))
            {
                // Removals before additions where both keep the common part as long: "-old +new" reads as a replacement.
                Add(parts, DiffKind.Removed, a[x++]);
            }
            else
            {
                Add(parts, DiffKind.Added, b[y++]);
            }
        }
        return parts;
    }

    private static void Add(List<DiffPart> parts, DiffKind kind, string word)
    {
        if (parts.Count > 0 && parts[^1].Kind == kind) parts[^1] = parts[^1] with { Text = parts[^1].Text + " " + word };
        else parts.Add(new DiffPart(kind, word));
    }
}
