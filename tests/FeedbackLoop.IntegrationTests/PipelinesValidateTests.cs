using FeedbackLoop.Cli;

namespace FeedbackLoop.IntegrationTests;

/// <summary><c>feedbackloop pipelines validate</c>: the start-up check of serve, run on its own, with its exit codes.</summary>
public sealed class PipelinesValidateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("fl-pipelines-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_shipped_pipelines_are_valid()
    {
        var (exit, output, error) = await ValidateAsync(Path.Combine(RepositoryFolder.Root, "pipelines"));
        Assert.True(exit == 0, error);
        Assert.Contains("default.yaml", output, StringComparison.Ordinal);
        Assert.Contains("gpu.yaml", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_with_one_bad_file_fails_and_names_the_file_and_line_while_the_good_one_passes()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder, "good.yaml"), "apps:\n  demo:\n");
        var bad = Path.Combine(_folder, "bad.yml");
        await File.WriteAllTextAsync(bad, "apps:\n  demo:\n    split: {eval_fraction: 7}\n");

        var (exit, output, error) = await ValidateAsync(_folder);

        Assert.Equal(1, exit);
        Assert.Contains($"ok {Path.Combine(_folder, "good.yaml")}: 1 app(s): demo", output, StringComparison.Ordinal);
        Assert.StartsWith($"{bad}:3:", error, StringComparison.Ordinal);
        Assert.Contains("eval_fraction", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_without_apps_is_valid_but_says_nothing_trains()
    {
        var file = Path.Combine(_folder, "bare.yaml");
        await File.WriteAllTextAsync(file, "defaults:\n  retrain: {min_new_pairs: 10}\n");
        var (exit, output, _) = await ValidateAsync(file);
        Assert.Equal(0, exit);
        Assert.Contains("no app registered, so nothing trains", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing.yaml", "does not exist")]
    [InlineData("", "holds no *.yaml or *.yml file")]
    public async Task Nothing_to_check_exits_2_and_says_what_to_give(string name, string expected)
    {
        var (exit, _, error) = await ValidateAsync(Path.Combine(_folder, name));
        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> ValidateAsync(string path)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CliCommands.Root().Parse(["pipelines", "validate", path]).InvokeAsync(new() { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}
