namespace FeedbackLoop.Orchestration.Runs;

/// <summary>Where runs put their model artifacts.</summary>
public sealed record LoopPaths(string ArtifactsRoot)
{
    /// <summary>The artifact folder of a model version (each job attempt writes a folder inside it).</summary>
    public string ArtifactOf(string version) => Path.Combine(ArtifactsRoot, version);
}
