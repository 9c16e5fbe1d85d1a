using System.CommandLine;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop pipelines validate &lt;file|dir&gt;</c>: the check <c>serve</c> and <c>extract</c> make of
/// <c>--pipeline</c> at start, without starting anything, so a change can be checked before it is deployed.
/// </summary>
internal static class PipelinesCommand
{
    /// <summary>Exit code when a file is not a valid pipeline.</summary>
    public const int InvalidExitCode = 1;

    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A pipelines file (YAML), or a folder: every *.yaml and *.yml directly in it is checked." };
        var validate = new Command("validate", "Check pipeline files as serve does at start: exit 0 when all are valid, 1 when any is not (each error names file:line:column), 2 when nothing was found.")
        {
            path,
        };
        validate.SetAction((parse, _) => ValidateAsync(parse.GetRequiredValue(path), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return new Command("pipelines", "Pipeline files.") { validate };
    }

    private static async Task<int> ValidateAsync(string path, TextWriter output, TextWriter error)
    {
        string[] files;
        if (Directory.Exists(path))
        {
            files = [.. Directory.EnumerateFiles(path, "*.yaml").Concat(Directory.EnumerateFiles(path, "*.yml")).Order(StringComparer.Ordinal)];
            if (files.Length == 0)
            {
                await error.WriteLineAsync($"{path} holds no *.yaml or *.yml file; give a pipelines file or the folder that holds them.").ConfigureAwait(false);
                return 2;
            }
        }
        else if (File.Exists(path))
        {
            files = [path];
        }
        else
        {
            await error.WriteLineAsync($"{path} does not exist; give a pipelines file (YAML) or a folder of them.").ConfigureAwait(false);
            return 2;
        }

        var invalid = 0;
        foreach (var file in files)
        {
            try
            {
                var pipeline = PipelineLoader.Load(file);
                await output.WriteLineAsync(pipeline.Apps.Count == 0
                    ? $"ok {file}: no app registered, so nothing trains (list the apps that may train under 'apps:')"
                    : $"ok {file}: {pipeline.Apps.Count} app(s): {string.Join(", ", pipeline.Apps.Keys.Order(StringComparer.Ordinal))}").ConfigureAwait(false);
            }
            catch (PipelineException e)
            {
                invalid++;
                await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                invalid++;
                await error.WriteLineAsync($"{file}: cannot be read ({e.GetType().Name}); check that it exists and this user may read it.").ConfigureAwait(false);
            }
        }
        return invalid > 0 ? InvalidExitCode : 0;
    }
}
