using System.Globalization;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// The spool's private folder and every file operation on it: segment files (<c>00000000000000000001.seg</c>
/// …), the delivery cursor, and a lock file that keeps a second spool out of the same folder.
/// </summary>
/// <remarks>
/// The folder holds what users did, so it must be the app's own: never the shared temp folder (an
/// OpenTelemetry exporter had a CVE for spooling there), created owner-only (0700) with owner-only files
/// (0600), and an existing folder that grants group or other users anything is refused rather than
/// silently tightened, since someone else may already have read it. On Windows the folder's ACL is the
/// app's choice; only the temp-folder rule applies there.
/// </remarks>
internal sealed class SpoolFolder : IDisposable
{
    // The option as apps write it, so the exception points at the setting to change.
    private static readonly string OptionName = "Spool." + nameof(SpoolOptions.Directory);
    private const string SegmentSuffix = ".seg";
    private const int SegmentNameDigits = 20;
    private const string CursorName = "cursor";
    private const string CursorTempName = "cursor.tmp";
    private const string LockName = "lock";
    private const int MaxCursorBytes = 1 << 20;

    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // Held open with FileShare.None for the spool's lifetime: .NET takes an exclusive advisory lock on
    // Unix (and a sharing lock on Windows), so two spools never interleave writes in one folder.
    private readonly FileStream _lock;

    private SpoolFolder(string fullPath, FileStream lockFile)
    {
        FullPath = fullPath;
        _lock = lockFile;
    }

    /// <summary>The folder's absolute path.</summary>
    public string FullPath { get; }

    /// <summary>Checks and opens (or creates) the spool folder and takes its lock.</summary>
    /// <exception cref="ArgumentException">The folder is the shared temp folder or others may read it.</exception>
    /// <exception cref="InvalidOperationException">Another spool holds the folder.</exception>
    public static SpoolFolder Open(string directory)
    {
        var fullPath = Normalize(directory);
        if (IsSharedTemp(fullPath))
        {
            throw new ArgumentException(
                $"{OptionName} '{fullPath}' is the shared temp folder, where other users and processes can read or plant files; " +
                "give the spool a private folder of its own, for example under the app's data folder.", OptionName);
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(fullPath);
        }
        else if (Directory.Exists(fullPath))
        {
            var mode = File.GetUnixFileMode(fullPath);
            if ((mode & GroupOrOther) != 0)
            {
                throw new ArgumentException(
                    $"{OptionName} '{fullPath}' is open to other users (mode {ToOctal(mode)}), but the spool holds what users did and needs " +
                    $"an owner-only folder: run 'chmod 700 {fullPath}' or choose a folder of the app's own.", OptionName);
            }
        }
        else
        {
            Directory.CreateDirectory(fullPath, OwnerOnlyFolder);
        }

        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(fullPath, LockName), CreateOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"{OptionName} '{fullPath}' is in use by another spool; each FeedbackClient needs a spool folder of its own.", ex);
        }
        return new SpoolFolder(fullPath, lockFile);
    }

    /// <summary>The segment files present, oldest first, with their lengths.</summary>
    public IReadOnlyList<(long Number, long Length)> ListSegments()
    {
        var segments = new List<(long Number, long Length)>();
        foreach (var file in new DirectoryInfo(FullPath).EnumerateFiles("*" + SegmentSuffix))
        {
            var stem = file.Name[..^SegmentSuffix.Length];
            // Only names this spool writes; anything else in the folder is left alone.
            if (stem.Length == SegmentNameDigits && long.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                segments.Add((number, file.Length));
        }
        segments.Sort((a, b) => a.Number.CompareTo(b.Number));
        return segments;
    }

    /// <summary>Creates a new, empty segment file for appending; the writer owns the stream.</summary>
    public FileStream CreateSegment(long number)
    {
        var options = CreateOptions(FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        // Batches are written in one call each, so a buffer would only add a copy.
        options.BufferSize = 0;
        return new FileStream(SegmentPath(number), options);
    }

    /// <summary>Opens a segment for reading while the writer may still append to it and the pump may delete it.</summary>
    public FileStream OpenSegment(long number) =>
        new(SegmentPath(number), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Deletes a segment file; a missing one counts as deleted.</summary>
    public void DeleteSegment(long number) => File.Delete(SegmentPath(number));

    /// <summary>The recorded cursor; null when there is none. <paramref name="unreadable"/> is set when a cursor file exists but is damaged.</summary>
    public SpoolCursor? ReadCursor(out bool unreadable)
    {
        unreadable = false;
        var path = Path.Combine(FullPath, CursorName);
        if (!File.Exists(path)) return null;
        var info = new FileInfo(path);
        if (info.Length <= MaxCursorBytes && SpoolCursor.TryDecode(File.ReadAllBytes(path), out var cursor)) return cursor;
        unreadable = true;
        return null;
    }

    /// <summary>
    /// Replaces the cursor atomically: the new content is written to a temp file in the same folder,
    /// flushed to disk, then renamed over the old one, so a crash leaves either the old or the new cursor.
    /// </summary>
    public void WriteCursor(SpoolCursor cursor)
    {
        var temp = Path.Combine(FullPath, CursorTempName);
        using (var stream = new FileStream(temp, CreateOptions(FileMode.Create, FileAccess.Write, FileShare.None)))
        {
            stream.Write(cursor.Encode());
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(FullPath, CursorName), overwrite: true);
    }

    public void Dispose() => _lock.Dispose();

    private string SegmentPath(long number) =>
        Path.Combine(FullPath, number.ToString("D" + SegmentNameDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + SegmentSuffix);

    private static FileStreamOptions CreateOptions(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        return options;
    }

    private static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private static bool IsSharedTemp(string fullPath)
    {
        // Path.GetTempPath() follows TMPDIR, but the system-wide temp folders stay shared whatever it says.
        string[] shared = OperatingSystem.IsWindows() ? [Path.GetTempPath()] : [Path.GetTempPath(), "/tmp", "/var/tmp", "/dev/shm"];
        var comparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        return shared.Any(folder => string.Equals(Normalize(folder), fullPath, comparison));
    }

    private static string ToOctal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
