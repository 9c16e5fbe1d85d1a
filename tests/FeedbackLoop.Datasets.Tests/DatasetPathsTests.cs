namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// Which files of a dataset folder count: committed <c>part-*.parquet</c> files only, never a temporary, a folder or another
/// name; and of those, <see cref="DatasetPaths.FilesNotIn"/> gives exactly the ones not read yet.
/// </summary>
public sealed class DatasetPathsTests : IDisposable
{
    private readonly TempFolder _folder = new("dataset-paths");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Files_not_read_yet_are_the_committed_files_missing_from_the_known_names()
    {
        foreach (var name in new[] { "part-a.parquet", "part-b.parquet", "part-c.parquet", "part-d.parquet.partial", "other.parquet", "part-e.csv", "PART-f.parquet" })
            File.WriteAllBytes(_folder.Combine(name), []);
        Directory.CreateDirectory(_folder.Combine("part-g.parquet"));
        var known = new HashSet<string>(["part-a.parquet", "part-z.parquet"], StringComparer.Ordinal);

        var fresh = DatasetPaths.FilesNotIn(_folder.Path, known);

        Assert.Equal([_folder.Combine("part-b.parquet"), _folder.Combine("part-c.parquet")], fresh.Order(StringComparer.Ordinal));
        Assert.Equal(["part-a.parquet", "part-b.parquet", "part-c.parquet"], DatasetPaths.Files(_folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_folder_that_does_not_exist_has_no_files() =>
        Assert.Empty(DatasetPaths.FilesNotIn(_folder.Combine("missing"), new HashSet<string>(StringComparer.Ordinal)));
}
