namespace FeedbackLoop.Pipelines;

/// <summary>Reads pipelines files (<c>pipelines/*.yaml</c>; fields and defaults in <c>pipelines/README.md</c>).</summary>
public static class PipelineLoader
{
    /// <summary>Reads and validates the file at <paramref name="path"/>; messages name the path as given.</summary>
    /// <exception cref="PipelineException">The file is not valid YAML or breaks a rule; the message says where and why.</exception>
    public static PipelineDefinition Load(string path) =>
        LoadFromText(File.ReadAllText(path), path) with { Directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Environment.CurrentDirectory };

    /// <summary>Reads and validates <paramref name="yaml"/>; messages name <paramref name="sourceName"/> as the file.</summary>
    /// <exception cref="PipelineException">The text is not valid YAML or breaks a rule; the message says where and why.</exception>
    public static PipelineDefinition LoadFromText(string yaml, string sourceName) => new PipelineReader(sourceName).Read(yaml);
}
