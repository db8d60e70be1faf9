namespace Veritee.Service;

/// <summary>
/// Folders and files that only the service's own user can open: the mode is given when the folder or file is
/// created (0700, 0600; the umask can only narrow it), never set afterwards, so there is no moment in which another
/// user could open a secret.
/// </summary>
public static class PrivateFiles
{
    /// <summary>Owner read and write (0600).</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Owner read, write and search (0700).</summary>
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> and any missing parents with mode 0700 (an existing folder is left as it is).</summary>
    public static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, FolderMode);
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> with mode 0600 holding <paramref name="content"/>, whole or not at all: it is
    /// written under a temporary name and linked into place. False (and nothing written) when the file exists.
    /// </summary>
    public static bool TryCreate(string path, ReadOnlySpan<byte> content)
    {
        if (File.Exists(path))
        {
            return false;
        }

        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, Options(System.IO.FileMode.CreateNew)))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            // Not overwriting: a concurrent first start that won keeps its file, and this one reads it.
            File.Move(temporary, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Creates an empty <paramref name="path"/> with mode 0600 unless it exists (e.g. a database file before its engine opens it).</summary>
    public static void CreateEmpty(string path)
    {
        try
        {
            using var stream = new FileStream(path, Options(System.IO.FileMode.CreateNew));
        }
        catch (IOException) when (File.Exists(path))
        {
            // Already there.
        }
    }

    /// <summary>
    /// Null when <paramref name="path"/> gives group and others no access (always on Windows); else the one-line
    /// problem with the <c>chmod</c> that fixes it.
    /// </summary>
    public static string? Exposure(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var mode = File.GetUnixFileMode(path);
        return (mode & GroupOrOthers) == 0
            ? null
            : $"{path} is open to other users (mode {Convert.ToString((int)mode, 8)}); restrict it with: chmod 600 {path}";
    }

    /// <summary>
    /// Narrows an existing file to 0600 when group or others have access (files created by an older Veritee); true
    /// when it changed something.
    /// </summary>
    public static bool Restrict(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path) || (File.GetUnixFileMode(path) & GroupOrOthers) == 0)
        {
            return false;
        }

        File.SetUnixFileMode(path, File.GetUnixFileMode(path) & ~GroupOrOthers);
        return true;
    }

    private static FileStreamOptions Options(System.IO.FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        return options;
    }
}
