using FeedbackLoop.Contracts;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// What one open session may hold, and what holding it costs. Sizes are estimates of the heap an entry keeps alive
/// (UTF-16 strings plus a fixed cost per entry for its dictionary slot and objects), cheap enough to add up as
/// entries come and go; they are not measured, so budgets are set with room to spare. The decision
/// (<see cref="Check"/>) reads only the session's own state, which a replay rebuilds from the session's first
/// record in the same order, so a replay cuts the same session at the same event.
/// </summary>
internal static class SessionBudget
{
    /// <summary>Reason of a session cut for holding more than <see cref="ExtractionSettings.MaxEntriesPerSession"/> entries.</summary>
    public const string EntriesReason = "entries";

    /// <summary>Reason of a session cut for holding more than <see cref="ExtractionSettings.MaxSessionBytes"/> (estimated).</summary>
    public const string BytesReason = "bytes";

    /// <summary>An open session with nothing in it: the state object, and room for the empty collections it creates on first
    /// use (<see cref="SessionState"/>). Kept at what all twelve cost when they were made up front, so the estimate stays on
    /// the safe side of what is held.</summary>
    public const long EmptySessionBytes = 2_048;

    /// <summary>One entry's slot, key tuple, value and object headers, beyond its strings.</summary>
    public const long EntryBytes = 96;

    // A string object: header, length and terminator, then two bytes per UTF-16 code unit.
    private const long StringHeaderBytes = 24;

    /// <summary>
    /// Null while the session is within both budgets, else the reason it is cut. Entries are checked first, so a
    /// session over both is cut for its entries.
    /// </summary>
    public static string? Check(int entries, long estimatedBytes, ExtractionSettings settings) =>
        entries > settings.MaxEntriesPerSession ? EntriesReason
        : estimatedBytes > settings.MaxSessionBytes ? BytesReason
        : null;

    /// <summary>The estimated bytes of session state to which global eviction brings the extractor back: 90% of
    /// the budget, so the sort over all sessions that eviction needs is paid once per many new bytes, not per event.</summary>
    public static long EvictionTarget(long maxSessionStateBytes) => maxSessionStateBytes / 10 * 9;

    /// <summary>A kept string.</summary>
    public static long Of(string? text) => text is null ? 0 : StringHeaderBytes + 2L * text.Length;

    /// <summary>An entry whose key and value keep <paramref name="first"/> and <paramref name="second"/> alive.</summary>
    public static long Entry(string? first = null, string? second = null) => EntryBytes + Of(first) + Of(second);

    /// <summary>A shown generation as <see cref="ShownGeneration"/> keeps it: ids, model, prompt and output.</summary>
    public static long Of(GenerationShown shown)
    {
        var bytes = Entry(shown.GenerationId, shown.Output) + Of(shown.ModelVersion) + Of(shown.Variant) + Of(shown.CandidateSetId);
        for (var i = 0; i < shown.Input.Count; i++) bytes += EntryBytes + Of(shown.Input[i].Role) + Of(shown.Input[i].Content); // no boxed enumerator
        return bytes;
    }

    /// <summary>A pending edit: the whole event is kept until its generation is shown.</summary>
    public static long Of(FeedbackEvent edit, GenerationEdited data) =>
        Entry(edit.EventId, edit.UserId) + Of(data.GenerationId) + Of(data.EditedOutput) + Of(edit.AppId) + Of(edit.SessionId);
}
