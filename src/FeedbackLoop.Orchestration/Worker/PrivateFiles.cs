namespace FeedbackLoop.Orchestration.Worker;

/// <summary>
/// Owner-only folders and files for what a job writes under <c>models/</c>. A model is built from users' text (the
/// reward model's vocabulary is made of their words), so only the loop's own user may read it: every role of the loop
/// runs as that user. A trainer creates its files with whatever mode its umask gives, so the worker tightens the
/// attempt's output once the job has ended; until then the folders above it (0700 from their creation) keep others out.
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupAndOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates <paramref name="path"/> and every missing folder above it mode 0700, and takes group and other access
    /// off <paramref name="path"/> and <paramref name="upTo"/>'s folders between them when they already existed
    /// (a data folder made by an older version, or by hand).
    /// </summary>
    public static void CreateFolder(string path, string upTo)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        var top = Path.GetFullPath(upTo);
        var missing = new Stack<string>();
        var current = Path.GetFullPath(path);
        for (; !Directory.Exists(current); current = Path.GetDirectoryName(current)!)
        {
            missing.Push(current);
        }

        while (missing.TryPop(out var folder))
        {
            Directory.CreateDirectory(folder, OwnerOnlyFolder);
        }

        // The existing levels from the output up to (and with) models/: a folder outside that is not ours to change.
        for (var folder = Path.GetFullPath(path); folder.StartsWith(top, StringComparison.Ordinal); folder = Path.GetDirectoryName(folder)!)
        {
            RemoveGroupAndOther(folder);
            if (folder.Length == top.Length)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Takes group and other access off <paramref name="root"/> and everything under it (owner bits stay, so an
    /// executable stays executable). Symbolic links are neither changed nor followed: a link's target is not the
    /// job's to expose or to lock.
    /// </summary>
    public static void Tighten(string root)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(root))
        {
            return;
        }

        RemoveGroupAndOther(root);
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = FileAttributes.ReparsePoint,
            IgnoreInaccessible = true,
            ReturnSpecialDirectories = false,
        };
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", options))
        {
            RemoveGroupAndOther(entry);
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void RemoveGroupAndOther(string path)
    {
        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupAndOther) != 0)
        {
            File.SetUnixFileMode(path, mode & ~GroupAndOther);
        }
    }
}
