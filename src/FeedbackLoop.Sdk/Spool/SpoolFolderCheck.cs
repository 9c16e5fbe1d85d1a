namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// Whether a spool folder is the app's own, decided from what <c>lstat</c> says about it and its parent: the
/// spool delivers what it finds there, so a folder another local user could have written to, or could swap
/// for one of their own, is refused. Unix only; on Windows the folder's ACL is the app's choice.
/// </summary>
internal static class SpoolFolderCheck
{
    private const string OptionName = "Spool." + nameof(SpoolOptions.Directory);
    private const uint Root = 0;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// Null when the folder above the spool folder is safe to keep it in; otherwise the refusal, naming the
    /// check and the fix. Checked before the spool folder is created, so a refused parent is left as it was.
    /// An unknown owner (a platform that cannot tell) passes the owner check; the mode check still applies.
    /// </summary>
    public static string? ParentRefusal(string parent, PathStatus status, uint? self)
    {
        if (status.Owner is { } owner && self is { } user && owner != user && owner != Root)
        {
            return $"The folder above {OptionName} ('{parent}') is owned by uid {owner}, neither this process's user (uid {user}) nor root, " +
                "so that user could swap the spool folder for one of their own: choose a folder under one this user or root owns.";
        }
        if ((status.Mode & GroupOrOtherWrite) != 0)
        {
            // Also with the sticky bit (/tmp): anyone may create the spool's name there before the app does.
            return $"The folder above {OptionName} ('{parent}') lets other users write (mode {ToOctal(status.Mode)}), so they could " +
                $"create or swap the spool folder: run 'chmod go-w {parent}' or choose a folder under one only this user can change.";
        }
        return null;
    }

    /// <summary>Null when the spool folder itself is the app's own; otherwise the refusal, naming the check and the fix.</summary>
    public static string? FolderRefusal(string folder, PathStatus status, uint? self)
    {
        if (status.Kind == PathKind.SymbolicLink)
        {
            return $"{OptionName} '{folder}' is a symbolic link; the spool follows no links, since whoever can change one " +
                "decides where events are read from: name the folder it points to.";
        }
        if (status.Kind != PathKind.Directory) return $"{OptionName} '{folder}' is not a folder.";
        if (status.Owner is { } owner && self is { } user && owner != user)
        {
            return $"{OptionName} '{folder}' is owned by uid {owner}, not by this process's user (uid {user}); its owner could " +
                "have planted events or links in it: give the spool a folder this user created, for example under the app's data folder.";
        }
        if ((status.Mode & GroupOrOther) != 0)
        {
            return $"{OptionName} '{folder}' is open to other users (mode {ToOctal(status.Mode)}), but the spool holds what users did and needs " +
                $"an owner-only folder: run 'chmod 700 {folder}' or choose a folder of the app's own.";
        }
        return null;
    }

    private static string ToOctal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8);
}
