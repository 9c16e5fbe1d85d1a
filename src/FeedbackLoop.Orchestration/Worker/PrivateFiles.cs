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
    /// off the existing folders from <paramref name="path"/> up to <paramref name="upTo"/> (a model's own folder; one
    /// made by an older version, or by hand). Nothing above <paramref name="upTo"/> that already exists is changed:
    /// it may be a folder shared with others (the artifacts root is made private by <see cref="CreateRoot"/>).
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

        // The existing levels from the output up to (and with) the model's folder.
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
    /// Creates the artifacts root (<c>&lt;data&gt;/models</c>) mode 0700, or takes group and other access off it when
    /// it exists: it is the loop's own folder, named by the operator's data folder.
    /// </summary>
    public static void CreateRoot(string root)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(root);
            return;
        }

        if (!Directory.Exists(root))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(root))!);
            Directory.CreateDirectory(root, OwnerOnlyFolder);
        }

        RemoveGroupAndOther(root);
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
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupAndOther) != 0)
            {
                File.SetUnixFileMode(path, mode & ~GroupAndOther);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Removed since it was listed (a trainer's temporary file): nothing left to protect.
        }
    }
}
