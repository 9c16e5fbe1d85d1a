using System.Globalization;

namespace FeedbackLoop.TestSupport;

/// <summary>
/// Temp folders named <c>{prefix}{pid}-…</c> by test processes that died without disposing their server (a private
/// RabbitMQ node or PostgreSQL server, which stopped with them): removed so they do not pile up.
/// </summary>
public static class DeadRunFolders
{
    /// <summary>Removes the folders under the temp folder whose owning process no longer runs; best effort.</summary>
    public static void Remove(string prefix)
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var pidText = Path.GetFileName(folder)[prefix.Length..].Split('-')[0];
            if (!int.TryParse(pidText, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue;
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
