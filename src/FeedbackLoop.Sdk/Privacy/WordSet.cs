#if NET9_0_OR_GREATER
using System.Buffers;
#endif

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>
/// The words a redactor looks for before it runs its pattern: a text holding none of them skips the pattern, which is
/// most of the cost saved. On .NET 9+ one vectorised pass over the text (<c>SearchValues&lt;string&gt;</c>); .NET 8 has
/// no string search values, so there it looks for each word in turn (same answers, slower; docs/adr/0027).
/// </summary>
internal sealed class WordSet
{
#if NET9_0_OR_GREATER
    private readonly SearchValues<string> _words;

    /// <summary>The words, compared <see cref="StringComparison.Ordinal"/> or <see cref="StringComparison.OrdinalIgnoreCase"/>.</summary>
    public WordSet(string[] words, StringComparison comparison) => _words = SearchValues.Create(words, comparison);

    /// <summary>Whether <paramref name="text"/> holds any of the words.</summary>
    public bool AnyIn(ReadOnlySpan<char> text) => text.IndexOfAny(_words) >= 0;
#else
    private readonly string[] _words;
    private readonly StringComparison _comparison;

    /// <summary>The words, compared <see cref="StringComparison.Ordinal"/> or <see cref="StringComparison.OrdinalIgnoreCase"/>.</summary>
    public WordSet(string[] words, StringComparison comparison)
    {
        _words = words;
        _comparison = comparison;
    }

    /// <summary>Whether <paramref name="text"/> holds any of the words.</summary>
    public bool AnyIn(ReadOnlySpan<char> text)
    {
        foreach (var word in _words)
        {
            if (text.IndexOf(word.AsSpan(), _comparison) >= 0) return true;
        }
        return false;
    }
#endif
}
