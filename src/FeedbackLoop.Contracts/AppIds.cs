namespace FeedbackLoop.Contracts;

/// <summary>
/// The one rule for app ids. An app id names a dataset folder, a model version and a trainer's <c>{app}</c> argument,
/// so it must be a safe path segment and a safe argument: it starts with a letter or digit (never <c>.</c>, <c>..</c>
/// or <c>-rf</c>) and holds only <c>a-z</c>, <c>0-9</c>, <c>.</c>, <c>_</c> and <c>-</c>, at most 64 of them.
/// </summary>
public static class AppIds
{
    /// <summary>The longest app id.</summary>
    public const int MaxLength = 64;

    /// <summary>The rule in words, for error messages and rejection reasons (fixed text: it never quotes the id).</summary>
    public const string Rule = "1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit";

    /// <summary>Whether <paramref name="appId"/> follows <see cref="Rule"/>.</summary>
    public static bool IsValid(string? appId)
    {
        if (appId is not { Length: >= 1 and <= MaxLength } || !IsLetterOrDigit(appId[0])) return false;
        foreach (var c in appId)
        {
            if (!(IsLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        }
        return true;
    }

    private static bool IsLetterOrDigit(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
