namespace FeedbackLoop.TestSupport;

/// <summary>What the tests ask the OS about processes they started (trainers, workers, CLI roles).</summary>
public static class OsProcess
{
    /// <summary>
    /// Whether <paramref name="pid"/> is a running process. A zombie (exited, not yet reaped) still has a /proc entry,
    /// so its state letter (Z) is checked; a process that exits between the existence check and the read makes the
    /// read fail, which means it is gone, not that the test failed.
    /// </summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat.Split(") ")[^1].StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
