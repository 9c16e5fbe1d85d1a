namespace FeedbackLoop.Orchestration.Tests.Support;

/// <summary>A registry file in a fresh temp folder, removed with its WAL files when the test ends.</summary>
internal sealed class TempDatabase : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "feedbackloop-registry-" + Guid.NewGuid().ToString("N"));

    public string FilePath => Path.Combine(_folder, "registry.db");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
