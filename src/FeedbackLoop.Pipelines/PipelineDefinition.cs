using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Pipelines;

/// <summary>
/// One pipelines file: the apps it registers (<c>apps:</c>) and the settings of each. Each app section is read on top
/// of <see cref="Defaults"/>, which is read on top of <see cref="AppPipeline.Builtin"/>, so a file states only what
/// differs. <see cref="Defaults"/> is what a listed app inherits, never a licence: an app the file does not list is
/// not registered, and no run starts for it (issue 10, finding 5).
/// </summary>
/// <param name="SourceName">Where the definition came from (the file path), for messages.</param>
/// <param name="Defaults">What a listed app inherits; also the extraction rules applied to events of an unlisted app, which are
/// extracted but never trained on.</param>
/// <param name="Apps">The settings of each listed app, keyed by app id.</param>
public sealed record PipelineDefinition(string SourceName, AppPipeline Defaults, IReadOnlyDictionary<string, AppPipeline> Apps)
    : IRegisteredApps
{
    /// <summary>The folder of the pipelines file: the value of <c>{pipeline_dir}</c> in commands.</summary>
    public string Directory { get; init; } = Environment.CurrentDirectory;

    /// <summary>The settings that apply to <paramref name="appId"/>: its own section, else <see cref="Defaults"/>.</summary>
    public AppPipeline For(string appId) => Apps.TryGetValue(appId, out var pipeline) ? pipeline : Defaults;

    /// <summary>
    /// The extraction rules of every app, for <c>extract --pipeline</c> and the demo alike: each listed app's own
    /// <c>rules:</c>, and <see cref="Defaults"/>' for any app the file does not list.
    /// </summary>
    public RuleBook ToRuleBook() =>
        new(Defaults.ToAppRules(), Apps.ToDictionary(app => app.Key, app => app.Value.ToAppRules(), StringComparer.Ordinal));

    /// <summary>Whether the file lists <paramref name="appId"/> under <c>apps:</c>: only such an app trains.</summary>
    public bool IsRegistered(string appId) => Apps.ContainsKey(appId);

    /// <summary>What to tell a person about an app this file does not list: how to register it (fixed text, no app id).</summary>
    public string HowToRegister =>
        $"add it under 'apps:' in {SourceName} (an empty section, 'my-app:', inherits 'defaults:') and restart the loop";
}
