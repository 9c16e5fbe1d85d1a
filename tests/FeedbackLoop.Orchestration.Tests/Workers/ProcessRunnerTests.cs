using FeedbackLoop.Orchestration.Worker;

namespace FeedbackLoop.Orchestration.Tests.Workers;

/// <summary>The worker's process runner on real processes: exit codes, output into the log, kill of the whole tree, the log's cap.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ProcessRunnerTests : IDisposable
{
    private readonly TempFolder _folder = new("runner");

    public void Dispose() => _folder.Dispose();

    private static readonly Dictionary<string, string> NoEnvironment = [];

    private AttemptLog Log(long maxBytes = AttemptLog.DefaultMaxBytes) => new(Path.Combine(_folder, "attempt.log"), maxBytes);

    [Fact]
    public async Task Output_of_both_streams_goes_to_the_log_and_the_exit_code_comes_back()
    {
        int exit;
        using (var log = Log())
        {
            exit = await ProcessRunner.RunAsync(["/bin/sh", "-c", "echo out; echo err >&2; echo \"$GREETING\"; exit 7"], _folder,
                new Dictionary<string, string> { ["GREETING"] = "hello from the environment" }, log, CancellationToken.None);
        }

        Assert.Equal(7, exit);
        var lines = File.ReadAllLines(Path.Combine(_folder, "attempt.log"));
        Assert.Equal(["err", "hello from the environment", "out"], lines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_program_gets_exactly_the_environment_given_and_nothing_of_the_workers_own()
    {
        // The test process's environment is the worker's here: PATH, HOME and whatever the machine has.
        Assert.False(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PATH")));
        using (var log = Log())
        {
            await ProcessRunner.RunAsync(["/usr/bin/env"], _folder, new Dictionary<string, string> { ["ONLY"] = "this" }, log, CancellationToken.None);
        }

        Assert.Equal(["ONLY=this"], File.ReadAllLines(Path.Combine(_folder, "attempt.log")));
    }

    [Fact]
    public async Task The_progress_is_the_jobs_last_line_not_a_note_of_the_worker()
    {
        using var log = Log();

        await ProcessRunner.RunAsync(["/bin/sh", "-c", "echo step 1; echo; echo '  step 2  '"], _folder, NoEnvironment, log, CancellationToken.None);
        log.Note("exited 0");

        Assert.Equal("step 2", log.Progress);
    }

    [Fact]
    public async Task Arguments_reach_the_program_as_given_without_a_shell()
    {
        using (var log = Log())
        {
            await ProcessRunner.RunAsync(["/bin/sh", "-c", "for a in \"$@\"; do echo \"[$a]\"; done", "sh", "two words", "$HOME", "*", "'q'"], _folder,
                NoEnvironment, log, CancellationToken.None);
        }

        Assert.Equal(["[two words]", "[$HOME]", "[*]", "['q']"], File.ReadAllLines(Path.Combine(_folder, "attempt.log")));
    }

    [Fact]
    public async Task A_missing_program_cannot_start_and_says_which()
    {
        using var log = Log();

        var failure = await Assert.ThrowsAsync<ProcessStartException>(() =>
            ProcessRunner.RunAsync(["no-such-trainer-program", "--x"], _folder, NoEnvironment, log, CancellationToken.None));

        Assert.Equal("could not start 'no-such-trainer-program': no such program (searched PATH)", failure.Message);
    }

    [Fact]
    public async Task Cancelling_kills_the_program_and_its_children()
    {
        var pids = Path.Combine(_folder, "pids");
        using var stop = new CancellationTokenSource();
        using var log = Log();

        // The program starts a child and waits on it, as a trainer with data-loader processes would.
        var run = ProcessRunner.RunAsync(["/bin/sh", "-c", $"sleep 300 & echo $$ $! > {pids}; wait"], _folder, NoEnvironment, log, stop.Token);
        Assert.True(await Eventually.TrueAsync(() => File.Exists(pids) && File.ReadAllText(pids).Trim().Split(' ').Length == 2, TimeSpan.FromSeconds(10)));
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var ids = File.ReadAllText(pids).Trim().Split(' ').Select(int.Parse).ToList();
        Assert.True(await Eventually.TrueAsync(() => ids.All(id => !OsProcess.IsAlive(id)), TimeSpan.FromSeconds(10)),
            $"still alive: {string.Join(", ", ids.Where(OsProcess.IsAlive))}");
    }

    [Fact]
    public void Past_its_cap_the_log_counts_lines_instead_of_writing_them()
    {
        using (var log = Log(maxBytes: 21))
        {
            log.Line("0123456789");
            log.Line("abcdefghi");
            log.Line("this one does not fit");
            log.Line("nor this, though it would");
            Assert.Equal("nor this, though it would", log.Progress);
        }

        Assert.Equal(
            ["0123456789", "abcdefghi", "== 2 more line(s) were not written: the log reached its limit of 21 bytes"],
            File.ReadAllLines(Path.Combine(_folder, "attempt.log")));
    }

    [Fact]
    public void The_log_is_readable_by_its_owner_only()
    {
        using (Log())
        {
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, "attempt.log")));
    }
}
