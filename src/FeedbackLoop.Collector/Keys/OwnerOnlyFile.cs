namespace FeedbackLoop.Collector.Keys;

/// <summary>
/// A small secrets file (hashes of keys or tokens) that only its owner may read: created 0600, rewritten whole through a
/// temporary file, fsync and rename, so a reader sees the old or the new file, never half of one. Writers take an
/// exclusive lock on <c>&lt;file&gt;.lock</c> first, so two commands at once cannot lose each other's change. The write
/// keys file and the review app's reviewers file both live this way.
/// </summary>
internal static class OwnerOnlyFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);

    /// <summary>Takes the writers' lock of <paramref name="path"/>, waiting up to 10 s for another writer; dispose to release.</summary>
    public static FileStream Lock(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + LockWait;
        while (true)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
                return new FileStream(path + ".lock", options);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another writer holds the lock for the few milliseconds of its rewrite.
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Replaces <paramref name="path"/> with what <paramref name="write"/> writes; call it holding <see cref="Lock"/>.</summary>
    public static void Replace(string path, Action<Stream> write)
    {
        var folder = Path.GetDirectoryName(path)!;
        var temporary = Path.Combine(folder, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".partial");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var stream = new FileStream(temporary, options))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
