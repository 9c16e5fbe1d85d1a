namespace FeedbackLoop.TestSupport;

/// <summary>
/// A fresh folder under the system temp folder (<c>feedbackloop-{purpose}-{guid}</c>), created at once and removed with
/// everything in it when disposed. Removal is best effort: a child process may still hold a file, and a leftover temp
/// folder is harmless.
/// </summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder(string purpose)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(purpose);
        Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"feedbackloop-{purpose}-{Guid.NewGuid():N}")).FullName;
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>A path inside the folder.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>The folder's full path, so a temp folder can be passed where a path is expected.</summary>
    public static implicit operator string(TempFolder folder) => folder?.Path ?? throw new ArgumentNullException(nameof(folder));

    public override string ToString() => Path;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        catch (IOException)
        {
            // Still in use; left for the system's temp clean-up.
        }
        catch (UnauthorizedAccessException)
        {
            // A test made part of it unreadable; left for the system's temp clean-up.
        }
    }
}
