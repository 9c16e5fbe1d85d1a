using System.Diagnostics;
using System.Text;

namespace FeedbackLoop.BrowserTests.Support;

/// <summary>
/// The CLI as a real process (<c>dotnet feedbackloop.dll …</c>, built beside the tests): stdout lines as they come, all
/// output kept for failure messages, every wait with a deadline.
/// </summary>
internal sealed class CliRun : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<string> _stdout = [];
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliRun(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _firstLine.TrySetResult(e.Data);
            lock (_output)
            {
                _stdout.Add(e.Data);
                _output.AppendLine(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _output.AppendLine(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public IReadOnlyList<string> StdoutLines
    {
        get
        {
            lock (_output) return [.. _stdout];
        }
    }

    public static CliRun Start(params string[] arguments)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "feedbackloop.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing: the test project references the CLI, so building it builds the CLI.");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(cli);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return new CliRun(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Runs a command to its end and returns its exit code; the output stays readable.</summary>
    public static async Task<CliRun> CompleteAsync(TimeSpan deadline, params string[] arguments)
    {
        var run = Start(arguments);
        await run.ExitAsync(deadline);
        return run;
    }

    public int ExitCode => _process.ExitCode;

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
}
