using System.Globalization;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Truncation;

/// <summary>What <see cref="ConversationTruncation.Cut"/> made of a conversation.</summary>
/// <param name="Input">The shortened turns, with the cut marked where it was made.</param>
/// <param name="TurnsRemoved">Whole turns taken out of the middle.</param>
/// <param name="CharactersRemoved">Characters taken out, of whole turns and from within turns together.</param>
internal sealed record TruncatedInput(IReadOnlyList<ConversationTurn> Input, int TurnsRemoved, long CharactersRemoved);

/// <summary>
/// The policy that keeps a <c>generation.shown</c> with a long conversation under the event size limit instead of
/// dropping it (docs/adr/0029): the leading system turns and the last turn stay whole; whole turns are taken out of the
/// middle, oldest first, and replaced by one system turn saying how many turns and characters went; when that is not
/// enough (one huge turn, say a RAG prompt with its documents), the middle of the longest remaining turns is cut, with a
/// marker in the text. The output is never touched: it is what the user saw and what the feedback is about.
/// A pure function on characters; the sender checks the serialized size and asks again for more when escaping made the
/// JSON longer than the characters suggest.
/// </summary>
internal static class ConversationTruncation
{
    // JSON a turn costs beyond its content: {"role":"assistant","content":""}, and a comma.
    private const int TurnOverhead = 36;

    // A cut turn keeps at least this much of its head and of its tail, so what it was about stays readable.
    private const int MinKept = 64;

    /// <summary>
    /// <paramref name="input"/> shortened by at least <paramref name="charactersToRemove"/> characters of JSON, or null
    /// when even the policy's shortest form is not that much shorter (the event is then dropped as oversized).
    /// </summary>
    public static TruncatedInput? Cut(IReadOnlyList<ConversationTurn> input, long charactersToRemove)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (charactersToRemove <= 0) return new TruncatedInput(input, 0, 0);

        var firstMiddle = 0;
        while (firstMiddle < input.Count - 1 && input[firstMiddle].Role == "system") firstMiddle++;
        var lastMiddle = input.Count - 2; // the last turn stays

        // 1. Whole turns from the middle, oldest first. The marker turn costs what it adds back.
        var turns = new List<ConversationTurn>(input);
        var removedTurns = 0;
        long removedTurnChars = 0;
        long saved = 0;
        for (var i = firstMiddle; i <= lastMiddle && saved < charactersToRemove; i++)
        {
            removedTurns++;
            removedTurnChars += input[i].Content.Length;
            saved = removedTurnChars + (long)removedTurns * TurnOverhead - MarkerTurnLength(removedTurns, removedTurnChars);
        }
        if (removedTurns > 0)
        {
            turns.RemoveRange(firstMiddle, removedTurns);
            turns.Insert(firstMiddle, new ConversationTurn("system", RemovedTurnsText(removedTurns, removedTurnChars)));
        }
        else
        {
            saved = 0;
        }

        // 2. The middle of the longest turns left (never the marker turn just made).
        long removedTextChars = 0;
        // Each turn is cut once at most (the marker turn never), so no marker is ever cut into another.
        var done = new bool[turns.Count];
        if (removedTurns > 0) done[firstMiddle] = true;
        while (saved < charactersToRemove)
        {
            var longest = -1;
            for (var i = 0; i < turns.Count; i++)
            {
                if (!done[i] && (longest < 0 || turns[i].Content.Length > turns[longest].Content.Length)) longest = i;
            }
            if (longest < 0) return null;
            done[longest] = true;
            var content = turns[longest].Content;
            var marker = RemovedTextText(content.Length); // an upper bound on its own length
            var cut = (int)Math.Min(content.Length - 2L * MinKept, charactersToRemove - saved + marker.Length);
            if (cut <= marker.Length) continue; // too short to gain anything, as is every shorter one: they are passed over until none is left
            var shortened = CutMiddle(content, cut, out var actuallyCut);
            turns[longest] = turns[longest] with { Content = shortened };
            removedTextChars += actuallyCut;
            saved += content.Length - shortened.Length;
        }
        return new TruncatedInput(turns, removedTurns, removedTurnChars + removedTextChars);
    }

    private static int MarkerTurnLength(int turns, long chars) => RemovedTurnsText(turns, chars).Length + TurnOverhead;

    // The markers are ASCII, so their JSON is exactly as long as their text.
    private static string RemovedTurnsText(int turns, long chars) =>
        string.Create(CultureInfo.InvariantCulture, $"[feedbackloop: {turns} turns ({chars} characters) removed here to fit the event size limit]");

    private static string RemovedTextText(long chars) =>
        string.Create(CultureInfo.InvariantCulture, $"[... feedbackloop: {chars} characters removed here to fit the event size limit ...]");

    /// <summary>Keeps the head and tail of <paramref name="text"/> in equal parts, never splitting a surrogate pair.</summary>
    private static string CutMiddle(string text, int cut, out int actuallyCut)
    {
        var keep = text.Length - cut;
        var head = keep / 2;
        var tailStart = text.Length - (keep - head);
        if (head > 0 && char.IsHighSurrogate(text[head - 1])) head--;
        if (tailStart < text.Length && char.IsLowSurrogate(text[tailStart])) tailStart++;
        actuallyCut = tailStart - head;
        return string.Concat(text.AsSpan(0, head), RemovedTextText(actuallyCut), text.AsSpan(tailStart));
    }
}
