using System.Globalization;
using System.Security.Cryptography;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// The spool's private folder and every file operation on it: segment files (<c>00000000000000000001.seg</c>
/// …), the delivery cursor, the record key (when not configured) and a lock file that keeps a second spool
/// out of the same folder.
/// </summary>
/// <remarks>
/// The folder holds what users did, and the spool delivers what it finds there, so it must be the app's own:
/// never the shared temp folder (an OpenTelemetry exporter had a CVE for spooling there), owned by this
/// process's user, owner-only (created 0700, files 0600), under a parent no other user can write to, and an
/// existing folder that fails any of that is refused rather than silently tightened, since someone else may
/// already have read it or planted files in it (<see cref="SpoolFolderCheck"/>). No file of the spool is
/// ever a symbolic link: the names the spool uses are checked without following links when it opens, new
/// files are created exclusively (which never follows a link), and segments are checked again before they
/// are read. On Windows the folder's ACL is the app's choice; the temp-folder, link and key rules apply there.
/// </remarks>
internal sealed class SpoolFolder : IDisposable
{
    // The option as apps write it, so the exception points at the setting to change.
    private static readonly string OptionName = "Spool." + nameof(SpoolOptions.Directory);
    private const string SegmentSuffix = ".seg";
    private const int SegmentNameDigits = 20;
    private const string CursorName = "cursor";
    private const string CursorTempName = "cursor.tmp";
    private const string KeyName = "key";
    private const string KeyTempName = "key.tmp";
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

    /// <summary>
    /// Why <see cref="Open"/> would refuse <paramref name="directory"/>, as far as can be told without creating it or
    /// taking its lock (shared temp folder, parent, the folder itself when it exists); null when nothing is wrong yet.
    /// Dependency injection asks at host start, so a bad folder fails start rather than the first send.
    /// </summary>
    public static string? StartRefusal(string directory)
    {
        var fullPath = Normalize(directory);
        if (IsSharedTemp(fullPath)) return SharedTempRefusal(fullPath);
        if (OperatingSystem.IsWindows()) return null;
        var self = UnixPathStatus.EffectiveUser;
        var parent = Path.GetDirectoryName(fullPath) ?? fullPath;
        if (UnixPathStatus.Of(parent) is { Kind: not PathKind.Missing } parentStatus && SpoolFolderCheck.ParentRefusal(parent, parentStatus, self) is { } parentRefusal)
            return parentRefusal;
        return UnixPathStatus.Of(fullPath) is { Kind: not PathKind.Missing } status ? SpoolFolderCheck.FolderRefusal(fullPath, status, self) : null;
    }

    private static string SharedTempRefusal(string fullPath) =>
        $"{OptionName} '{fullPath}' is the shared temp folder, where other users and processes can read or plant files; " +
        "give the spool a private folder of its own, for example under the app's data folder.";

    /// <summary>Checks and opens (or creates) the spool folder and takes its lock.</summary>
    /// <exception cref="ArgumentException">The folder is the shared temp folder, is not the app's own, or holds a link under a spool file's name.</exception>
    /// <exception cref="InvalidOperationException">Another spool holds the folder.</exception>
    public static SpoolFolder Open(string directory)
    {
        var fullPath = Normalize(directory);
        if (IsSharedTemp(fullPath)) throw new ArgumentException(SharedTempRefusal(fullPath), OptionName);

        if (OperatingSystem.IsWindows())
        {
            if (UnixPathStatus.Of(fullPath).Kind == PathKind.Missing) Directory.CreateDirectory(fullPath);
            if (UnixPathStatus.Of(fullPath).Kind != PathKind.Directory) throw new ArgumentException($"{OptionName} '{fullPath}' is not a folder.", OptionName);
        }
        else
        {
            var self = UnixPathStatus.EffectiveUser;
            var parent = Path.GetDirectoryName(fullPath) ?? fullPath;
            // The parent first, so nothing is created under one that is refused.
            if (UnixPathStatus.Of(parent) is { Kind: not PathKind.Missing } parentStatus
                && SpoolFolderCheck.ParentRefusal(parent, parentStatus, self) is { } parentRefusal)
            {
                throw new ArgumentException(parentRefusal, OptionName);
            }
            if (UnixPathStatus.Of(fullPath).Kind == PathKind.Missing) Directory.CreateDirectory(fullPath, OwnerOnlyFolder);
            // Also a folder the spool just created: it may have lost a race to one someone else created first.
            if (SpoolFolderCheck.FolderRefusal(fullPath, UnixPathStatus.Of(fullPath), self) is { } refusal)
                throw new ArgumentException(refusal, OptionName);
        }

        RefuseLink(fullPath, LockName);
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
        var folder = new SpoolFolder(fullPath, lockFile);
        try
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(fullPath))
            {
                var name = Path.GetFileName(entry);
                if (IsSpoolFileName(name)) RefuseLink(fullPath, name);
            }
        }
        catch
        {
            folder.Dispose();
            throw;
        }
        return folder;
    }

    /// <summary>
    /// The record key kept in the folder, generated on first use: 32 random bytes in an owner-only file,
    /// written whole to a new temp file and then renamed into place, so a crash never leaves half a key.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key file is damaged or others may have read it.</exception>
    public SpoolKey LoadOrCreateKey()
    {
        var path = Path.Combine(FullPath, KeyName);
        var status = UnixPathStatus.Of(path);
        if (status.Kind == PathKind.Missing)
        {
            var key = RandomNumberGenerator.GetBytes(SpoolKey.Size);
            var temp = Path.Combine(FullPath, KeyTempName);
            File.Delete(temp); // a leftover of a crash; never a link (checked at open), and unlink does not follow one
            using (var stream = new FileStream(temp, CreateOptions(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
            {
                stream.Write(key);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: false);
            return SpoolKey.FromBytes(key);
        }
        if (status.Kind != PathKind.File || (status.Mode & GroupOrOther) != 0)
        {
            throw new InvalidOperationException(
                $"{OptionName} '{FullPath}': the spool key file '{KeyName}' is not an owner-only plain file, so others may have read it; " +
                $"delete it (what is spooled under it is then skipped and counted as spool_forged) or set Spool.{nameof(SpoolOptions.IntegrityKey)}.");
        }
        var bytes = ReadSmallFile(path, SpoolKey.Size + 1);
        if (bytes is not { Length: SpoolKey.Size })
        {
            throw new InvalidOperationException(
                $"{OptionName} '{FullPath}': the spool key file '{KeyName}' is damaged ({bytes?.Length ?? 0} bytes, expected {SpoolKey.Size}); " +
                "delete it (what is spooled under it is then skipped and counted as spool_forged).");
        }
        return SpoolKey.FromBytes(bytes);
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
    /// <exception cref="FileNotFoundException">The segment is gone.</exception>
    /// <exception cref="SpoolEntryNotPlainException">The segment is a link or not a plain file; it is not opened.</exception>
    public FileStream OpenSegment(long number)
    {
        var path = SegmentPath(number);
        switch (UnixPathStatus.Of(path).Kind)
        {
            case PathKind.File:
                break;
            case PathKind.Missing:
                throw new FileNotFoundException("spool segment is gone", path);
            default:
                throw new SpoolEntryNotPlainException(number);
        }
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>Whether a segment begins with a record of format 1 (before records were signed).</summary>
    public bool HoldsFormat1(long number)
    {
        var start = new byte[5];
        using var stream = OpenSegment(number);
        return stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && SpoolRecord.IsFormat1(start);
    }

    /// <summary>Deletes a segment file; a missing one counts as deleted.</summary>
    public void DeleteSegment(long number) => File.Delete(SegmentPath(number));

    /// <summary>The recorded cursor; null when there is none. <paramref name="unreadable"/> is set when a cursor file exists but is damaged or not signed with <paramref name="key"/>.</summary>
    public SpoolCursor? ReadCursor(SpoolKey key, out bool unreadable)
    {
        unreadable = false;
        var path = Path.Combine(FullPath, CursorName);
        if (UnixPathStatus.Of(path).Kind == PathKind.Missing) return null;
        if (ReadSmallFile(path, MaxCursorBytes) is { } bytes && SpoolCursor.TryDecode(bytes, key, out var cursor)) return cursor;
        unreadable = true;
        return null;
    }

    /// <summary>
    /// Replaces the cursor atomically: the new content is written to a temp file in the same folder,
    /// flushed to disk, then renamed over the old one, so a crash leaves either the old or the new cursor.
    /// </summary>
    /// <remarks>
    /// The temp file is removed and then created exclusively (O_CREAT | O_EXCL), never opened with truncate:
    /// unlink removes a link rather than what it points to, and an exclusive create refuses to follow one, so
    /// a link planted under the temp name can make this write fail but never redirect it into another file.
    /// </remarks>
    public void WriteCursor(SpoolCursor cursor, SpoolKey key)
    {
        var temp = Path.Combine(FullPath, CursorTempName);
        File.Delete(temp);
        using (var stream = new FileStream(temp, CreateOptions(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
        {
            stream.Write(cursor.Encode(key));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(FullPath, CursorName), overwrite: true);
    }

    public void Dispose() => _lock.Dispose();

    private string SegmentPath(long number) =>
        Path.Combine(FullPath, number.ToString("D" + SegmentNameDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + SegmentSuffix);

    private static bool IsSpoolFileName(string name) =>
        name is LockName or CursorName or CursorTempName or KeyName or KeyTempName
        || (name.Length == SegmentNameDigits + SegmentSuffix.Length && name.EndsWith(SegmentSuffix, StringComparison.Ordinal)
            && !name.AsSpan(0, SegmentNameDigits).ContainsAnyExceptInRange('0', '9'));

    // A link under one of the spool's names would redirect a read or write elsewhere; the spool never makes
    // one, so it is refused by name before anything is opened. (Anything else in the way, a folder say, just
    // makes that one operation fail.)
    private static void RefuseLink(string folder, string name)
    {
        if (UnixPathStatus.Of(Path.Combine(folder, name)).Kind != PathKind.SymbolicLink) return;
        throw new ArgumentException(
            $"{OptionName} '{folder}' holds '{name}' as a symbolic link; the spool never makes links, so someone else put it there: " +
            "find out who, remove it, then start again.", OptionName);
    }

    // A file the spool wrote itself, read whole if it is at most maxBytes; null when it is larger.
    private static byte[]? ReadSmallFile(string path, int maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var buffer = new byte[maxBytes + 1];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return read > maxBytes ? null : buffer[..read];
    }

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

}

/// <summary>A segment name in the spool folder is taken by a link or something other than a plain file.</summary>
internal sealed class SpoolEntryNotPlainException(long segment)
    : IOException($"spool segment {segment} is a symbolic link or not a plain file")
{
    public long Segment { get; } = segment;
}
