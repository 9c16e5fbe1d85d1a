using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Pipelines;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop jobs list|show|logs|cancel</c>: the durable tuning and eval jobs and their attempts. Cancelling files a
/// request in the store; the orchestrator carries it out at its next sweep (and tells the worker to stop the process).
/// </summary>
internal static class JobsCommand
{
    public static Command Create()
    {
        var registry = RegistryFile.Option();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var app = new Option<string?>("--app") { Description = "Only jobs of this app." };
        var state = new Option<string?>("--state") { Description = "Only jobs in this state: pending, offered, running, succeeded, failed or cancelled." };
        var limit = new Option<int>("--limit") { Description = "At most this many jobs, newest first.", DefaultValueFactory = _ => 50 };
        var jobId = new Argument<string>("job") { Description = "The job id (see `jobs list`)." };
        var attempt = new Option<int?>("--attempt") { Description = "The attempt; the latest by default." };
        var tail = new Option<int?>("--tail") { Description = "Only the last N lines." };
        var reason = new Option<string>("--reason") { Description = "Why (recorded as the job's reason).", DefaultValueFactory = _ => $"cancelled by {Environment.UserName}" };

        var list = new Command("list", "List jobs: state, attempts, worker and how each ended.") { registry, app, state, limit, json };
        list.SetAction(parse => RegistryFile.Run(parse, registry, r =>
            List(Jobs(r), parse.GetValue(app), parse.GetValue(state), parse.GetValue(limit), parse.GetValue(json))));

        var show = new Command("show", "Show a job and every attempt: worker, times, heartbeats, progress, exit code, reason, log and metrics.") { jobId, registry, json };
        show.SetAction(parse => RegistryFile.Run(parse, registry, r => Show(Jobs(r), parse.GetValue(jobId)!, parse.GetValue(json))));

        var logs = new Command("logs", "Print an attempt's log (it lives on the worker that ran it).") { jobId, registry, attempt, tail };
        logs.SetAction(parse => RegistryFile.Run(parse, registry, r => Logs(Jobs(r), parse.GetValue(jobId)!, parse.GetValue(attempt), parse.GetValue(tail))));

        var cancel = new Command("cancel", "Cancel a job: it is not retried; a running attempt's process is stopped by its worker.") { jobId, registry, reason };
        cancel.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var job = Jobs(r).RequestCancel(parse.GetValue(jobId)!, parse.GetValue(reason)!);
            AnsiConsole.MarkupLine($"cancel requested for [bold]{Markup.Escape(job.JobId)}[/] ({JobRules.Text(job.State)}); the orchestrator stops it at its next sweep");
            return 0;
        }));

        return new Command("jobs", "Inspect and cancel tuning and eval jobs.") { list, show, logs, cancel };
    }

    private static JobStore Jobs(ModelRegistry registry) => new(registry.DatabasePath);

    private static int List(JobStore jobs, string? appId, string? stateText, int limit, bool json)
    {
        if (limit < 1)
        {
            throw new InvalidOperationException("--limit must be at least 1");
        }

        JobState? state = stateText is null ? null : ParseState(stateText);
        var rows = jobs.List(appId, state, limit);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows.Select(j => JobJson(j, jobs.Attempts(j.JobId))), RegistryFile.Json));
            return 0;
        }

        var table = new Table().AddColumns("job", "kind", "state", "attempts", "worker", "updated", "reason / progress");
        foreach (var job in rows)
        {
            var all = jobs.Attempts(job.JobId);
            var last = all.Count == 0 ? null : all[^1];
            table.AddRow(
                Markup.Escape(job.JobId), job.Kind, Colored(job.State),
                string.Create(CultureInfo.InvariantCulture, $"{job.Attempt}/{job.MaxAttempts}"),
                Markup.Escape(last?.WorkerId ?? "—"),
                job.UpdatedAt.ToString("u", CultureInfo.InvariantCulture),
                Markup.Escape(job.Reason ?? last?.Progress ?? ""));
        }

        AnsiConsole.Write(table);
        return 0;
    }

    private static int Show(JobStore jobs, string jobId, bool json)
    {
        var job = jobs.Get(jobId) ?? throw new InvalidOperationException($"job '{jobId}' is unknown");
        var attempts = jobs.Attempts(jobId);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(JobJson(job, attempts), RegistryFile.Json));
            return 0;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value) => grid.AddRow($"[bold]{name}[/]", Markup.Escape(value ?? "—"));
        Row("job", job.JobId);
        Row("run", job.RunId);
        Row("app", job.AppId);
        Row("kind", $"{job.Kind} ({job.Spec.Runner})");
        grid.AddRow("[bold]state[/]", Colored(job.State));
        Row("attempts", string.Create(CultureInfo.InvariantCulture, $"{job.Attempt} of at most {job.MaxAttempts}; retry backoff {job.RetryBackoff.TotalSeconds:0.#} s (doubling); heartbeat timeout {job.HeartbeatTimeout.TotalSeconds:0.#} s; time limit {job.Spec.TimeoutSeconds:0.#} s"));
        Row("command", job.Spec.Command.Count == 0 ? "(in-process ML.NET)" : CommandTemplate.Display(job.Spec.Command));
        foreach (var extra in job.Spec.ExtraCommands)
        {
            Row("extra check", CommandTemplate.Display(extra));
        }

        Row("due", job.DueAt?.ToString("u", CultureInfo.InvariantCulture));
        Row("cancel requested", job.CancelRequestedAt is null ? null : $"{job.CancelRequestedAt.Value.ToString("u", CultureInfo.InvariantCulture)}: {job.CancelReason}");
        Row("reason", job.Reason);
        Row("result", job.ResultJson is { Length: > 400 } long_ ? long_[..400] + "…" : job.ResultJson);
        AnsiConsole.Write(grid);

        var table = new Table().AddColumns("#", "state", "worker / slot", "started", "last heard", "ended", "exit", "reason / progress", "log");
        foreach (var a in attempts)
        {
            table.AddRow(
                a.Attempt.ToString(CultureInfo.InvariantCulture), Markup.Escape(JobRules.Text(a.State)),
                Markup.Escape(a.WorkerId is null ? "—" : string.Create(CultureInfo.InvariantCulture, $"{a.WorkerId} / {a.Slot}")),
                Time(a.StartedAt), Time(a.HeartbeatAt), Time(a.EndedAt),
                a.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "—",
                Markup.Escape(a.Reason ?? a.Progress ?? ""), Markup.Escape(a.LogPath ?? "—"));
        }

        AnsiConsole.Write(table);
        return 0;
    }

    private static int Logs(JobStore jobs, string jobId, int? attemptNumber, int? tail)
    {
        _ = jobs.Get(jobId) ?? throw new InvalidOperationException($"job '{jobId}' is unknown");
        var attempts = jobs.Attempts(jobId);
        var attempt = (attemptNumber is { } n ? attempts.FirstOrDefault(a => a.Attempt == n) : attempts.LastOrDefault(a => a.LogPath is not null))
            ?? throw new InvalidOperationException(attemptNumber is null
                ? $"job '{jobId}' has no attempt with a log yet"
                : $"job '{jobId}' has no attempt {attemptNumber}");
        if (attempt.LogPath is null)
        {
            throw new InvalidOperationException($"attempt {attempt.Attempt} of job '{jobId}' never started on a worker, so it has no log");
        }

        if (!File.Exists(attempt.LogPath))
        {
            throw new InvalidOperationException(
                $"the log of attempt {attempt.Attempt} is on worker {attempt.WorkerId} at {attempt.LogPath}, which this machine cannot read");
        }

        if (tail is < 1)
        {
            throw new InvalidOperationException("--tail must be at least 1");
        }

        // Read while the worker may still be appending: share the file for writing.
        using var stream = new FileStream(attempt.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new Queue<string>();
        while (reader.ReadLine() is { } line)
        {
            if (tail is null)
            {
                Console.WriteLine(line);
                continue;
            }

            lines.Enqueue(line);
            if (lines.Count > tail)
            {
                lines.Dequeue();
            }
        }

        foreach (var line in lines)
        {
            Console.WriteLine(line);
        }

        return 0;
    }

    private static JobState ParseState(string text) =>
        Enum.GetValues<JobState>().FirstOrDefault(s => JobRules.Text(s) == text, (JobState)(-1)) is var state && state >= 0
            ? state
            : throw new InvalidOperationException($"--state {text}: expected one of {string.Join(", ", Enum.GetValues<JobState>().Select(JobRules.Text))}");

    private static string Colored(JobState state) => state switch
    {
        JobState.Succeeded => "[green]succeeded[/]",
        JobState.Failed => "[red]failed[/]",
        JobState.Cancelled => "[yellow]cancelled[/]",
        JobState.Running => "[blue]running[/]",
        _ => JobRules.Text(state),
    };

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static string Time(DateTimeOffset? at) => at?.ToString("HH:mm:ss", CultureInfo.InvariantCulture) ?? "—";

    private static object JobJson(JobRecord job, IReadOnlyList<AttemptRecord> attempts) => new
    {
        job = job.JobId,
        run = job.RunId,
        app = job.AppId,
        job.Kind,
        runner = job.Spec.Runner,
        state = JobRules.Text(job.State),
        job.Attempt,
        job.MaxAttempts,
        retry_backoff_seconds = job.RetryBackoff.TotalSeconds,
        heartbeat_timeout_seconds = job.HeartbeatTimeout.TotalSeconds,
        timeout_seconds = job.Spec.TimeoutSeconds,
        due_at = job.DueAt,
        cancel_requested_at = job.CancelRequestedAt,
        job.CancelReason,
        job.Reason,
        result = job.ResultJson is null ? (JsonElement?)null : ParseJson(job.ResultJson),
        created_at = job.CreatedAt,
        updated_at = job.UpdatedAt,
        attempts = attempts.Select(a => new
        {
            a.Attempt,
            state = JobRules.Text(a.State),
            worker = a.WorkerId,
            a.Slot,
            offered_at = a.OfferedAt,
            started_at = a.StartedAt,
            heartbeat_at = a.HeartbeatAt,
            ended_at = a.EndedAt,
            a.Progress,
            a.Reason,
            a.ExitCode,
            log = a.LogPath,
            output = a.OutputPath,
        }),
    };
}
