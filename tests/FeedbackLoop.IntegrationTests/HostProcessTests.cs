using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Transport;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The long-running commands as real processes on the Generic Host: SIGTERM stops each within 10 s with exit 0, and an
/// extractor stopped mid-stream loses nothing (a second run completes the datasets without doubling a row).
/// </summary>
public sealed class HostProcessTests : IDisposable
{
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(10);
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "feedbackloop-host-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public async Task Serve_all_in_memory_exits_0_within_10_s_of_SIGTERM()
    {
        using var serve = CliProcess.Start("serve", "--data", Path.Combine(_root, "data"), "--store", Path.Combine(_root, "store", "registry.db"), "--poll-datasets", "200ms");
        var ready = await serve.FirstStdoutLineAsync(TimeSpan.FromSeconds(60));
        Assert.StartsWith(ServeCommand.ReadyLinePrefix + "role=all", ready, StringComparison.Ordinal);

        var (exit, took) = await serve.TerminateAsync(StopDeadline);

        Assert.True(exit == 0, $"exit {exit}:\n{serve.Output}");
        Assert.True(took < StopDeadline, $"stopped after {took.TotalSeconds:0.0} s");
        Assert.True(File.Exists(Path.Combine(_root, "store", "registry.db")), "the store is where --store says, outside the data folder");
        Assert.False(File.Exists(Path.Combine(_root, "data", "registry.db")));
    }

    [Fact]
    public async Task Extract_stopped_by_SIGTERM_mid_stream_exits_0_within_10_s_and_the_next_run_loses_and_doubles_nothing()
    {
        const int Sessions = 4000;
        var data = Path.Combine(_root, "data");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "4");
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        KnownSessions.ProduceSideBySide(bootstrap, Sessions);

        using (var first = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data))
        {
            // Stop it once it has written something, while it still has most of the stream ahead of it.
            var pairs = Path.Combine(data, "datasets", "demo", "preference-pairs");
            Assert.True(await Eventually.TrueAsync(() => Directory.Exists(pairs) && Directory.EnumerateFiles(pairs, "*.parquet").Any(), TimeSpan.FromSeconds(60)),
                $"no pairs were written:\n{first.Output}");

            var (exit, took) = await first.TerminateAsync(StopDeadline);

            Assert.True(exit == 0, $"exit {exit}:\n{first.Output}");
            Assert.True(took < StopDeadline, $"stopped after {took.TotalSeconds:0.0} s");
        }

        using (var second = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3"))
        {
            var exit = await second.ExitAsync(TimeSpan.FromSeconds(120));
            Assert.True(exit == 0, $"exit {exit}:\n{second.Output}");
        }

        var written = await DatasetReader.ReadPairsAsync(data, "demo");
        Assert.Equal(Sessions, written.Count);
        Assert.Equal(Sessions, written.Select(p => p.PairId).Distinct().Count());
        await broker.TerminateAsync(StopDeadline);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A CLI process for these tests: stdout lines as they come, all output kept for failure messages.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _firstLine.TrySetResult(e.Data);
            Append(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _errorLines.Add(e.Data);
            Append(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The process id, e.g. to read /proc/&lt;id&gt;/status.</summary>
    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private readonly List<string> _errorLines = [];

    /// <summary>The lines the process wrote on stderr so far.</summary>
    public IReadOnlyList<string> ErrorLines
    {
        get
        {
            lock (_output) return [.. _errorLines];
        }
    }

    public static CliProcess Start(params string[] arguments) => Start(new Dictionary<string, string>(), arguments);

    public static CliProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Remove(RabbitMqSettings.UriVariable);
        start.Environment.Remove(RabbitMqSettings.PasswordVariable);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(ServeJobProcesses.CliAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new CliProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    public async Task<string> FirstStdoutLineAsync(TimeSpan deadline)
    {
        try
        {
            return await _firstLine.Task.WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no stdout line within {deadline.TotalSeconds:0} s:\n{Output}");
        }
    }

    /// <summary>SIGTERM, then the exit code and how long the process took to exit (up to twice the deadline).</summary>
    public async Task<(int ExitCode, TimeSpan Took)> TerminateAsync(TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        Assert.True(Libc.Kill(_process.Id, Libc.Sigterm) == 0, $"kill failed: errno {Marshal.GetLastPInvokeError()}");
        return (await ExitAsync(deadline * 2), clock.Elapsed);
    }

    public async Task<int> ExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the process did not exit within {deadline.TotalSeconds:0} s:\n{Output}");
        }

        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: no handler runs, nothing is flushed or committed (a crash or an OOM kill).</summary>
    public void KillHard()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static class Libc
    {
        public const int Sigterm = 15;

#pragma warning disable SYSLIB1054 // LibraryImport needs AllowUnsafeBlocks, which this project does not set.
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int sig);
#pragma warning restore SYSLIB1054
    }
}
