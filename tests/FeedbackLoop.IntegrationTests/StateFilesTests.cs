using System.Text;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>State files replaced as a set on a real disk: all of them whole, or, when one cannot be written, none renamed.</summary>
public sealed class StateFilesTests
{
    [Fact]
    public void A_set_is_written_whole_over_the_old_files()
    {
        using var root = new TempFolder("state-files");
        File.WriteAllText(root.Combine("a"), "old");

        StateFiles.ReplaceAll(root.Path, [Named(root, "a", "head a\n", "body a"), Named(root, "b", "head b\n", "")]);

        Assert.Equal(("head a\nbody a", "head b\n"), (File.ReadAllText(root.Combine("a")), File.ReadAllText(root.Combine("b"))));
        Assert.Equal(["a", "b"], Directory.EnumerateFiles(root.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void When_one_file_cannot_be_written_its_error_is_thrown_and_no_file_of_the_set_is_renamed()
    {
        using var root = new TempFolder("state-files");
        File.WriteAllText(root.Combine("a"), "old");

        Assert.Throws<DirectoryNotFoundException>(() =>
            StateFiles.ReplaceAll(root.Path, [Named(root, "a", "new a\n", ""), Named(root, Path.Combine("missing", "b"), "new b\n", "")]));

        Assert.Equal("old", File.ReadAllText(root.Combine("a")));
        Assert.Equal(["a"], Directory.EnumerateFiles(root.Path).Select(Path.GetFileName)); // no temporary of the set left behind
    }

    private static StateFile Named(TempFolder root, string name, string head, string body) =>
        new(root.Combine(name), Encoding.ASCII.GetBytes(head), Encoding.ASCII.GetBytes(body));
}
