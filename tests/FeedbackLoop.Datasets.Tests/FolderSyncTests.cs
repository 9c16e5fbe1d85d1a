using FeedbackLoop.Durability;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// The folder fsync every durable replace ends with (dataset files, the review log, and the extractor's state files, which
/// compile the same source): a folder that could not be synced is an error, never a silent success, except on a file system
/// that cannot fsync a folder at all.
/// </summary>
public sealed class FolderSyncTests : IDisposable
{
    private readonly TempFolder _folder = new("folder-sync");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_folder_on_disk_is_synced() => FolderSync.Sync(_folder.Path);

    [Fact]
    public void A_folder_that_cannot_be_opened_is_an_error()
    {
        if (OperatingSystem.IsWindows()) return; // nothing to sync there, by design
        var error = Assert.Throws<IOException>(() => FolderSync.Sync(_folder.Combine("missing")));
        Assert.Contains("errno 2", error.Message, StringComparison.Ordinal); // ENOENT
    }

    [Fact]
    public void A_file_system_that_cannot_sync_folders_is_accepted()
    {
        // procfs answers fsync with EINVAL, as some network and FUSE file systems do: there is nothing more to make durable.
        if (!OperatingSystem.IsLinux()) return;
        FolderSync.Sync("/proc/self");
    }
}
