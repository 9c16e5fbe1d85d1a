using System.Diagnostics;
using System.Globalization;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// The topology as <c>scripts/local-cluster.sh up</c> starts it for a developer: every role its own OS process, run
/// from the CLI these tests built. The test reads <c>cluster.env</c> for the addresses and pids, and <c>down</c> stops
/// what is left when it is disposed.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private static readonly TimeSpan UpDeadline = TimeSpan.FromMinutes(4);
    private readonly Dictionary<string, string> _settings;

    private LocalCluster(string folder, Dictionary<string, string> settings, string upOutput)
    {
        Folder = folder;
        _settings = settings;
        UpOutput = upOutput;
    }

    public string Folder { get; }

    /// <summary>What <c>up</c> printed: a line per process with where it listens.</summary>
    public string UpOutput { get; }

    public string CollectorUrl => _settings["FEEDBACKLOOP_COLLECTOR_URL"];

    public string ReviewUrl => _settings["FEEDBACKLOOP_REVIEW_URL"];

    public string Store => _settings["FEEDBACKLOOP_STORE"];

    public string Data => _settings["FEEDBACKLOOP_DATA"];

    /// <summary>The file that holds the PostgreSQL store's password (only the roles and this test read it).</summary>
    public string StorePasswordFile => _settings["FEEDBACKLOOP_STORE_PASSWORD_FILE"];

    public string WriteKey => File.ReadAllText(_settings["FEEDBACKLOOP_WRITE_KEY_FILE"]).Trim();

    /// <summary>The pid of a process by its name in <c>up</c>'s output (<c>extractor-1</c>, <c>worker-2</c>, ...).</summary>
    public int Pid(string name) =>
        int.Parse(_settings["PID_" + name.ToUpperInvariant().Replace('-', '_')], CultureInfo.InvariantCulture);

    /// <summary>The log of a process.</summary>
    public string Log(string name)
    {
        var path = Path.Combine(Folder, "logs", name + ".log");
        if (!File.Exists(path)) return "(no log)";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>SIGKILL, as a crash would: the process gets no chance to drain, commit or release anything.</summary>
    public void Kill(string name)
    {
        // The process alone, as a crash takes it: children (a trainer's process) are left to their own fate.
        using var process = Process.GetProcessById(Pid(name));
        process.Kill(entireProcessTree: false);
        process.WaitForExit();
    }

    public static async Task<LocalCluster> UpAsync(string folder, string pipeline, string store, string app)
    {
        var (exit, output) = await ScriptAsync(UpDeadline, "up", "--dir", folder, "--store", store, "--pipeline", pipeline, "--app", app,
            "--cli", ServeJobProcesses.CliAssembly);
        if (exit != 0)
        {
            await ScriptAsync(TimeSpan.FromMinutes(2), "down", "--dir", folder);
            Assert.Fail($"local-cluster.sh up exited {exit}:\n{output}");
        }

        var settings = File.ReadAllLines(Path.Combine(folder, "cluster.env"))
            .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.StartsWith('#'))
            .Select(line => line.Split('=', 2))
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
        return new LocalCluster(folder, settings, output);
    }

    public async ValueTask DisposeAsync()
    {
        var (exit, output) = await ScriptAsync(TimeSpan.FromMinutes(2), "down", "--dir", Folder);
        Assert.True(exit == 0, $"local-cluster.sh down exited {exit}:\n{output}");
    }

    private static async Task<(int Exit, string Output)> ScriptAsync(TimeSpan deadline, params string[] arguments)
    {
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(RepositoryFolder.Combine("scripts", "local-cluster.sh"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
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
            return (-1, $"timed out after {deadline.TotalSeconds:0} s\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
