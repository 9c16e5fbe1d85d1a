using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;

namespace FeedbackLoop.Orchestration.Worker;

/// <summary>A job's program could not be started at all (not found, not executable).</summary>
internal sealed class ProcessStartException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Runs one program of a job: argv as given (never through a shell), output lines into the attempt's log, killed with
/// its whole process tree when the token is cancelled (time limit, cancellation, worker shutdown).
///
/// A worker killed outright (SIGKILL, OOM) cannot kill its children, and an orphaned trainer would go on holding the
/// GPU while the job's next attempt runs elsewhere. So on Linux each program is started through util-linux's
/// <c>setpriv --pdeathsig KILL</c>, which has the kernel kill it when its parent goes, and from one long-lived thread:
/// the kernel sends that signal when the forking <em>thread</em> ends, so forking from a pool thread that later
/// retires would kill healthy jobs.
/// </summary>
internal static class ProcessRunner
{
    private const string SetPriv = "/usr/bin/setpriv";

    private static readonly Lazy<Launcher> SharedLauncher = new(() => new Launcher());

    /// <summary>Whether children die with the worker (setpriv is there); reported in the worker's start line.</summary>
    public static bool ChildrenDieWithWorker => OperatingSystem.IsLinux() && File.Exists(SetPriv);

    /// <summary>Runs the program with exactly <paramref name="environment"/> (nothing of the worker's own) and returns its exit code.</summary>
    /// <exception cref="ProcessStartException">The program could not be started.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the process tree was killed first.</exception>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment, AttemptLog log,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Checked here because through setpriv a missing program would only show as exit code 127.
        var program = Resolve(arguments[0], workingDirectory)
            ?? throw new ProcessStartException($"could not start '{arguments[0]}': no such program (searched PATH)", new FileNotFoundException(arguments[0]));
        var start = new ProcessStartInfo
        {
            FileName = ChildrenDieWithWorker ? SetPriv : program,
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
        };
        if (ChildrenDieWithWorker)
        {
            foreach (var prefix in (string[])["--pdeathsig", "KILL", "--", program])
            {
                start.ArgumentList.Add(prefix);
            }
        }

        foreach (var argument in arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        // The program's whole environment: ProcessStartInfo starts from a copy of the worker's, which holds secrets.
        start.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = await SharedLauncher.Value.StartAsync(start, log).ConfigureAwait(false);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            // The output handlers may still be draining; waiting (untimed) lets them finish writing to the log.
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        // WaitForExitAsync returns once the output is drained too, so every line is in the log by now.
        return process.ExitCode;
    }

    /// <summary>The program's full path: a name with a slash is a path (relative to the working directory), else it is looked up on PATH.</summary>
    private static string? Resolve(string program, string workingDirectory)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(program, workingDirectory);
            return File.Exists(path) ? path : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own meanwhile.
        }
    }

    /// <summary>Starts processes from one dedicated thread that lives as long as the worker (see the class comment).</summary>
    private sealed class Launcher
    {
        private readonly BlockingCollection<(ProcessStartInfo Start, AttemptLog Log, TaskCompletionSource<Process> Started)> _requests = [];

        public Launcher()
        {
            var thread = new Thread(Serve) { IsBackground = true, Name = "feedbackloop-job-launcher" };
            thread.Start();
        }

        public Task<Process> StartAsync(ProcessStartInfo start, AttemptLog log)
        {
            var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
            _requests.Add((start, log, started));
            return started.Task;
        }

        private void Serve()
        {
            foreach (var (start, log, started) in _requests.GetConsumingEnumerable())
            {
                var process = new Process { StartInfo = start, EnableRaisingEvents = true };
                process.OutputDataReceived += (_, e) => log.Line(e.Data);
                process.ErrorDataReceived += (_, e) => log.Line(e.Data);
                try
                {
                    process.Start();
                    process.BeginOutputReadLine();
                    process.BeginErrorReadLine();
                    started.SetResult(process);
                }
                catch (Win32Exception e)
                {
                    process.Dispose();
                    started.SetException(new ProcessStartException($"could not start '{start.FileName}': {e.Message}", e));
                }
            }
        }
    }
}
