namespace FeedbackLoop.Pipelines;

/// <summary>
/// One pipelines file: the settings of every app it names, and the settings every other app gets.
/// Each app section is read on top of <see cref="Defaults"/>, which is read on top of <see cref="AppPipeline.Builtin"/>,
/// so a file states only what differs.
/// </summary>
/// <param name="SourceName">Where the definition came from (the file path), for messages.</param>
/// <param name="Defaults">The settings of an app the file does not list under <c>apps:</c>.</param>
/// <param name="Apps">The settings of each listed app, keyed by app id.</param>
public sealed record PipelineDefinition(string SourceName, AppPipeline Defaults, IReadOnlyDictionary<string, AppPipeline> Apps)
{
    /// <summary>The folder of the pipelines file: the value of <c>{pipeline_dir}</c> in commands.</summary>
    public string Directory { get; init; } = Environment.CurrentDirectory;

    /// <summary>The settings that apply to <paramref name="appId"/>: its own section, else <see cref="Defaults"/>.</summary>
    public AppPipeline For(string appId) => Apps.TryGetValue(appId, out var pipeline) ? pipeline : Defaults;
}
