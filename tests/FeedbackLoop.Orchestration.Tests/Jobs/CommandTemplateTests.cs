using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Jobs;

/// <summary>Command templates: split like a shell word list, never run through one; values never split an argument.</summary>
public sealed class CommandTemplateTests
{
    [Theory]
    [InlineData("python3 train.py --out {output}", new[] { "python3", "train.py", "--out", "{output}" })]
    [InlineData("  a \t b\n c  ", new[] { "a", "b", "c" })]
    [InlineData("run 'two words' \"and \\\"quoted\\\"\"", new[] { "run", "two words", "and \"quoted\"" })]
    [InlineData("run 'it''s' a\\ b", new[] { "run", "its", "a b" })]
    [InlineData("run --x=\"{output}/m.json\"", new[] { "run", "--x={output}/m.json" })]
    [InlineData("run '$HOME' *.py; rm -rf /", new[] { "run", "$HOME", "*.py;", "rm", "-rf", "/" })]
    [InlineData("run '' x", new[] { "run", "", "x" })]
    public void Text_splits_into_arguments_like_a_shell_word_list(string text, string[] arguments)
    {
        Assert.Equal(arguments, CommandTemplate.Parse(text).Arguments);
    }

    [Theory]
    [InlineData("run 'open", "the single quote at character 5 is never closed")]
    [InlineData("run \"open", "the double quote at character 5 is never closed")]
    [InlineData("run \\", "the command ends with a lone backslash")]
    [InlineData("", "the command names no program")]
    [InlineData("'' x", "the command names no program")]
    [InlineData("run {Output}", "'{' at character 1 of argument \"{Output}\" does not start a {placeholder} (lowercase letters and '_'); write {{ for a literal brace")]
    [InlineData("run {output", "'{' at character 1 of argument \"{output\" does not start a {placeholder} (lowercase letters and '_'); write {{ for a literal brace")]
    [InlineData("run x}", "'}' at character 2 of argument \"x}\" closes no placeholder; write }} for a literal brace")]
    public void Bad_text_is_refused_with_the_reason(string text, string reason)
    {
        Assert.Equal(reason, Assert.Throws<FormatException>(() => CommandTemplate.Parse(text)).Message);
    }

    [Fact]
    public void Placeholders_are_listed_and_expanded_inside_their_argument()
    {
        var template = CommandTemplate.Parse("train --data={train} --params {params} --name run-{run_id}-{attempt} {{literal}}");

        var arguments = template.Expand(new Dictionary<string, string>
        {
            ["train"] = "/data/my snapshot",
            ["params"] = """{"beta": 0.1, "note": "it's"}""",
            ["run_id"] = "demo-run-1",
            ["attempt"] = "2",
        });

        Assert.Equal(["attempt", "params", "run_id", "train"], template.Placeholders.Order(StringComparer.Ordinal));
        Assert.Equal(
            ["train", "--data=/data/my snapshot", "--params", """{"beta": 0.1, "note": "it's"}""", "--name", "run-demo-run-1-2", "{literal}"],
            arguments);
    }

    [Fact]
    public void A_value_is_never_expanded_again()
    {
        var arguments = CommandTemplate.Parse("echo {base_model}").Expand(new Dictionary<string, string> { ["base_model"] = "config:{output}" });

        Assert.Equal(["echo", "config:{output}"], arguments);
    }

    [Fact]
    public void A_placeholder_without_a_value_is_an_error_not_an_empty_argument()
    {
        var failure = Assert.Throws<KeyNotFoundException>(() => CommandTemplate.Parse("run {model}").Expand(new Dictionary<string, string>()));

        Assert.Equal("the command uses {model}, which has no value here", failure.Message);
    }

    [Fact]
    public void Templates_from_text_and_from_a_list_are_equal_when_their_arguments_are()
    {
        Assert.Equal(CommandTemplate.Parse("a 'b c'"), CommandTemplate.FromArguments(["a", "b c"]));
        Assert.NotEqual(CommandTemplate.Parse("a b c"), CommandTemplate.FromArguments(["a", "b c"]));
    }

    [Fact]
    public void Display_quotes_only_what_a_shell_would_split()
    {
        Assert.Equal("python3 /x/train.py --name 'two words' 'it'\\''s' '{\"a\": 1}'",
            CommandTemplate.Display(["python3", "/x/train.py", "--name", "two words", "it's", "{\"a\": 1}"]));
    }
}
