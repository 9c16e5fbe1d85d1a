namespace FeedbackLoop.TestSupport;

/// <summary>The checkout the tests run from: scripts, pipelines and docs that tests use as users would.</summary>
public static class RepositoryFolder
{
    /// <summary>The folder above the test's binaries that holds FeedbackLoop.sln.</summary>
    /// <exception cref="InvalidOperationException">The tests run outside a checkout.</exception>
    public static string Root
    {
        get
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "FeedbackLoop.sln"))) return folder.FullName;
            }
            throw new InvalidOperationException($"no FeedbackLoop.sln above {AppContext.BaseDirectory}: the tests run from a checkout");
        }
    }

    /// <summary>A path inside the checkout.</summary>
    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);
}
