using System.Runtime.InteropServices;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>What a path is, without following it if it is a symbolic link.</summary>
internal enum PathKind
{
    Missing,
    Directory,
    File,
    SymbolicLink,
    Other,
}

/// <summary>
/// What <c>lstat</c> says about a path: its kind, its owner's uid (null where the platform cannot tell) and
/// its permission bits. Never follows a symbolic link at the last component.
/// </summary>
internal readonly record struct PathStatus(PathKind Kind, uint? Owner, UnixFileMode Mode)
{
    public static readonly PathStatus Missing = new(PathKind.Missing, null, 0);
}

/// <summary>
/// The two facts about files .NET does not expose: who owns a path, and who this process is. Linux answers
/// through <c>statx</c> (a kernel struct that is the same on every architecture) and <c>geteuid</c>; elsewhere
/// the kind and mode come from .NET and the owner stays unknown. Why P/Invoke: docs/adr/0010.
/// </summary>
internal static partial class UnixPathStatus
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxUid = 0x8;
    private const int StatxBufferBytes = 256; // sizeof(struct statx)
    private const int StatxUidOffset = 20, StatxModeOffset = 28;
    private const int Enoent = 2, Enotdir = 20;
    private const int TypeMask = 0xF000, TypeDirectory = 0x4000, TypeFile = 0x8000, TypeLink = 0xA000;

    /// <summary>The effective uid of this process; null on Windows.</summary>
    public static uint? EffectiveUser => OperatingSystem.IsWindows() ? null : GetEffectiveUserId();

    /// <summary>The path's status, not following a link at its last component.</summary>
    /// <exception cref="IOException">The path exists but cannot be examined.</exception>
    public static PathStatus Of(string path) => OperatingSystem.IsLinux() ? OfLinux(path) : OfManaged(path);

    private static unsafe PathStatus OfLinux(string path)
    {
        var buffer = stackalloc byte[StatxBufferBytes];
        int result;
        try
        {
            result = Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid, buffer);
        }
        catch (EntryPointNotFoundException ex)
        {
            // Refuse rather than start unchecked (docs/adr/0010).
            throw new PlatformNotSupportedException(
                "The C library has no statx (glibc 2.28 or musl 1.2.5 and later have it), so the spool cannot check who owns its folder.", ex);
        }
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Enoent or Enotdir) return PathStatus.Missing;
            throw new IOException($"cannot examine '{path}' (errno {errno})");
        }
        var uid = *(uint*)(buffer + StatxUidOffset);
        var mode = *(ushort*)(buffer + StatxModeOffset);
        var kind = (mode & TypeMask) switch
        {
            TypeDirectory => PathKind.Directory,
            TypeFile => PathKind.File,
            TypeLink => PathKind.SymbolicLink,
            _ => PathKind.Other,
        };
        return new PathStatus(kind, uid, (UnixFileMode)(mode & 0xFFF));
    }

    private static PathStatus OfManaged(string path)
    {
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (info.LinkTarget is not null) return new PathStatus(PathKind.SymbolicLink, null, 0);
        if (!info.Exists) return PathStatus.Missing;
        var kind = info is DirectoryInfo ? PathKind.Directory : PathKind.File;
        return new PathStatus(kind, null, OperatingSystem.IsWindows() ? 0 : info.UnixFileMode);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
