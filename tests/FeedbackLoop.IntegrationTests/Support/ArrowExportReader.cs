using System.Diagnostics;
using System.Text.Json;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// Reads an Arrow IPC file with the npm <c>apache-arrow</c> package under node (a reader we did not write), through
/// ArrowReader/read-arrow.mjs. The package is installed beside the test binaries with <c>npm ci</c> (pinned by
/// package-lock.json) the first time a test needs it; node and npm come from Debian (test.sh installs them).
/// </summary>
internal static class ArrowExportReader
{
    private static readonly TimeSpan InstallDeadline = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan ReadDeadline = TimeSpan.FromSeconds(60);
    private static readonly SemaphoreSlim Installing = new(1, 1);

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "ArrowReader");

    /// <summary>The file's schema and rows, as read-arrow.mjs prints them.</summary>
    public static async Task<JsonDocument> ReadAsync(string arrowFile)
    {
        await EnsureInstalledAsync();
        var (exit, stdout, stderr) = await RunAsync("node", [Path.Combine(Folder, "read-arrow.mjs"), arrowFile], ReadDeadline);
        Assert.True(exit == 0, $"node read-arrow.mjs exited {exit}: {stderr}");
        return JsonDocument.Parse(stdout);
    }

    private static async Task EnsureInstalledAsync()
    {
        await Installing.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(Folder, "node_modules", "apache-arrow", "package.json"))) return;
            var (exit, _, stderr) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", Folder], InstallDeadline);
            Assert.True(exit == 0, $"npm ci for the apache-arrow reader exited {exit} (test.sh installs node and npm; npm needs the registry): {stderr}");
        }
        finally
        {
            Installing.Release();
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string program, string[] arguments, TimeSpan deadline)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Folder };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException(program + " did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish within {deadline.TotalSeconds:0} s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
