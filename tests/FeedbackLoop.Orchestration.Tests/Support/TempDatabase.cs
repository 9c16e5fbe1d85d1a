namespace FeedbackLoop.Orchestration.Tests.Support;

/// <summary>A registry file in a fresh temp folder, removed with its WAL files when the test ends.</summary>
internal sealed class TempDatabase : IDisposable
{
    private readonly TempFolder _folder = new("registry");

    public string FilePath => _folder.Combine("registry.db");

    public void Dispose() => _folder.Dispose();
}
