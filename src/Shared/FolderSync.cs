using System.Runtime.InteropServices;

namespace FeedbackLoop.Durability;

/// <summary>
/// fsync of a folder, which makes the renames and creations in it durable (POSIX; Windows has no equivalent need). One
/// source file compiled into each project that replaces files durably (FeedbackLoop.Datasets' dataset files and review log,
/// FeedbackLoop.Kafka's checkpoints and progress marks), since those projects do not depend on each other and
/// FeedbackLoop.Core does no I/O; linked, not copied, so both fail the same way.
/// </summary>
internal static partial class FolderSync
{
    private const int Ebadf = 9;
    private const int Einval = 22;

    /// <summary>
    /// Flushes <paramref name="directory"/>'s entries to disk. Throws <see cref="IOException"/> when that failed: a write whose
    /// rename may not survive a power loss must not be reported durable. EINVAL and EBADF are taken as a file system that
    /// cannot fsync a folder (as PostgreSQL also accepts them), not as a failure.
    /// </summary>
    public static void Sync(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"could not open a folder to fsync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0 && Marshal.GetLastPInvokeError() is var errno && errno is not (Einval or Ebadf))
                throw new IOException($"fsync of a folder failed (errno {errno})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
