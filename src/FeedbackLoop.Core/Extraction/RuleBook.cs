using System.Collections.Frozen;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The rule set of every app: each listed app's own <see cref="AppRules"/>, and <see cref="Default"/> for any app
/// not listed (a pipeline file's <c>defaults:</c>). The extractor looks an app up once per session, when the session
/// opens, and keeps the answer with it, so the per-event path never searches the book.
/// </summary>
public sealed class RuleBook
{
    private readonly FrozenDictionary<string, AppRules> _apps;

    /// <summary>A book with <paramref name="defaults"/> for unlisted apps and <paramref name="apps"/> keyed by app id.</summary>
    public RuleBook(AppRules defaults, IReadOnlyDictionary<string, AppRules>? apps = null)
    {
        Default = defaults;
        _apps = (apps ?? FrozenDictionary<string, AppRules>.Empty).ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Every app gets the built-in rules.</summary>
    public static RuleBook Builtin { get; } = new(AppRules.Builtin);

    /// <summary>The rules of an app the book does not list.</summary>
    public AppRules Default { get; }

    /// <summary>The apps with rules of their own.</summary>
    public IReadOnlyCollection<string> Apps => _apps.Keys;

    /// <summary>The same rules for every app.</summary>
    public static RuleBook Uniform(AppRules rules) => new(rules);

    /// <summary>The rules of <paramref name="appId"/>: its own, else <see cref="Default"/>. App ids match exactly (ordinal).</summary>
    public AppRules For(string appId) => _apps.TryGetValue(appId, out var rules) ? rules : Default;
}
