using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Datasets;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop runs list|show|start|retry</c>: tuning runs, what triggered each, and runs started by people. Like the
/// other store commands they write the store directly; a running orchestrator (<c>serve</c>) takes a started run's first
/// step at its next sweep, so nothing here needs the broker.
/// </summary>
internal static class RunsCommand
{
    public static Command Create()
    {
        var registry = RegistryFile.Option();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var app = new Option<string?>("--app") { Description = "Only runs of this app." };
        var startApp = new Option<string>("--app") { Description = "The app to tune (its pipeline entry decides trainer and gate).", Required = true };
        var limit = new Option<int>("--limit") { Description = "At most this many runs, newest first.", DefaultValueFactory = _ => 50 };
        var runId = new Argument<string>("run") { Description = "The run id (see `runs list`)." };
        var by = new Option<string>("--by") { Description = "Who starts it (recorded); the OS user by default.", DefaultValueFactory = _ => Environment.UserName };
        var reason = new Option<string?>("--reason") { Description = "Why (recorded with the run's trigger)." };
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = $"The data folder whose committed preference pairs the run trains on. Default: ${LoopLocations.DataVariable}, else the configuration file's {LoopLocations.DataKey}, else {LoopLocations.DefaultData}.",
        };

        var list = new Command("list", "List runs, newest first: app, status, trigger, snapshot size, candidate and how each ended; an app whose next run waits for review comes first, with the reason.") { registry, app, limit, json };
        list.SetAction(parse => RegistryFile.Run(parse, registry, r => List(r, parse.GetValue(app), parse.GetValue(limit), parse.GetValue(json))));

        var show = new Command("show", "Show one run: trigger, snapshot, its tune and eval jobs, its candidate and the gate's decision.") { runId, registry, json };
        show.SetAction(parse => RegistryFile.Run(parse, registry, r => Show(r, parse.GetValue(runId)!, parse.GetValue(json))));

        var start = new Command(
            "start",
            "Start a run of an app now, on its committed preference pairs (trigger: manual). One run per app at a time; a running orchestrator takes it up at its next sweep.")
        { startApp, registry, data, by, reason };
        start.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var appId = parse.GetValue(startApp)!;
            var root = LoopLocations.Resolve(parse.GetValue(data)?.FullName, null).Data;
            var snapshot = new DatasetSnapshots(root).CaptureAsync(appId).GetAwaiter().GetResult();
            var note = parse.GetValue(reason) is { } why ? $"by {parse.GetValue(by)}: {why}" : $"by {parse.GetValue(by)}";
            var run = r.StartRunByPerson(appId, snapshot, RunTrigger.Manual, note);
            Started(run);
            return 0;
        }));

        var retry = new Command("retry", "Retry a failed run on the same snapshot, as a new run (trigger: retry) that names the one it retries.") { runId, registry, by };
        retry.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            Started(r.RetryRun(parse.GetValue(runId)!, parse.GetValue(by)!));
            return 0;
        }));

        return new Command("runs", "Inspect tuning runs and what triggered them; start one by hand or retry a failed one.") { list, show, start, retry };
    }

    private static void Started(RunRecord run) =>
        AnsiConsole.MarkupLine(
            $"started run [bold]{Markup.Escape(run.RunId)}[/] ({RunNames.Text(run.Trigger)}, {run.Snapshot.TotalPairs} pairs in {run.Snapshot.Files.Count} files); " +
            $"candidate {Markup.Escape(run.CandidateVersion)}. A running orchestrator (`serve`) takes its first step at its next sweep; follow it with `feedbackloop runs show {Markup.Escape(run.RunId)}`.");

    private static int List(ModelRegistry registry, string? appId, int limit, bool json)
    {
        if (limit < 1)
        {
            throw new InvalidOperationException("--limit must be at least 1");
        }

        var apps = appId is null ? registry.ListApps() : [appId];
        var runs = apps.SelectMany(registry.ListRuns).OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.RunId, StringComparer.Ordinal).Take(limit).ToList();
        // A run that waits for review has no run id or snapshot yet; it is listed first, as the app's next run.
        var waits = new ReviewWaits(registry.Database).All().Where(w => appId is null || w.AppId == appId).ToList();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(waits.Select(WaitJson).Concat(runs.Select(RunJson)), RegistryFile.Json));
            return 0;
        }

        if (runs.Count == 0 && waits.Count == 0)
        {
            Console.Error.WriteLine($"no runs in {registry.DatabasePath} yet");
            return 0;
        }

        var table = new Table().AddColumns("run", "app", "status", "trigger", "pairs", "started", "candidate", "reason");
        foreach (var wait in waits)
        {
            table.AddRow(
                "(next)", Markup.Escape(wait.AppId), "[yellow]waiting for review[/]", "pairs",
                wait.Progress.NewPairs.ToString(CultureInfo.InvariantCulture) + " new", wait.Since.ToString("u", CultureInfo.InvariantCulture), "",
                Markup.Escape(wait.Reason));
        }

        foreach (var run in runs)
        {
            table.AddRow(
                Markup.Escape(run.RunId), Markup.Escape(run.AppId), Status(run.Status), Markup.Escape(TriggerText(run)),
                run.Snapshot.TotalPairs.ToString(CultureInfo.InvariantCulture), run.StartedAt.ToString("u", CultureInfo.InvariantCulture),
                Markup.Escape(run.CandidateVersion), Markup.Escape(run.Reason ?? ""));
        }

        AnsiConsole.Write(table);
        return 0;
    }

    private static object WaitJson(ReviewWaitRecord wait) => new
    {
        run = (string?)null,
        app = wait.AppId,
        status = "waiting_for_review",
        trigger = RunNames.Text(RunTrigger.Pairs),
        new_pairs = wait.Progress.NewPairs,
        reviewed_pairs = wait.Progress.ReviewedPairs,
        needed_pairs = wait.NeededPairs,
        min_reviewed_fraction = wait.MinFraction,
        waiting_since = wait.Since,
        checked_at = wait.CheckedAt,
        wait.Reason,
    };

    private static int Show(ModelRegistry registry, string runId, bool json)
    {
        var run = registry.GetRun(runId) ?? throw new InvalidOperationException($"run '{runId}' is unknown ('feedbackloop runs list' names the runs)");
        var jobs = new JobStore(registry.DatabasePath);
        var runJobs = new[] { jobs.Get(JobIds.Tune(run.RunId)), jobs.Get(JobIds.Eval(run.RunId)) }.OfType<JobRecord>().ToList();
        var candidate = registry.GetModel(run.CandidateVersion);
        var decision = candidate is null ? null : registry.GetDecision(candidate.Version);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                run = RunJson(run),
                jobs = runJobs.Select(j => new { job = j.JobId, j.Kind, state = JobRules.Text(j.State), attempts = j.Attempt, j.Reason }),
                candidate = candidate is null ? null : new { candidate.Version, status = RegistryStatus(candidate.Status) },
                decision = decision is null ? null : new { passed = decision.Promoted, decision.Reason, gated_against = decision.GatedAgainst },
            }, RegistryFile.Json));
            return 0;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value) => grid.AddRow($"[bold]{name}[/]", Markup.Escape(value ?? "—"));
        Row("run", run.RunId);
        Row("app", run.AppId);
        Row("status", RegistryStatus(run.Status));
        Row("trigger", TriggerText(run));
        Row("snapshot", string.Create(CultureInfo.InvariantCulture, $"{run.Snapshot.Files.Count} files, {run.Snapshot.TotalPairs} pairs"));
        Row("started", run.StartedAt.ToString("u", CultureInfo.InvariantCulture));
        Row("ended", run.CompletedAt?.ToString("u", CultureInfo.InvariantCulture));
        Row("reason", run.Reason);
        foreach (var job in runJobs)
        {
            Row(job.Kind, string.Create(CultureInfo.InvariantCulture, $"{job.JobId}: {JobRules.Text(job.State)}, attempt {job.Attempt}/{job.MaxAttempts}{(job.Reason is null ? "" : ": " + job.Reason)}"));
        }

        Row("candidate", candidate is null ? $"{run.CandidateVersion} (not registered yet)" : $"{candidate.Version} ({RegistryStatus(candidate.Status)})");
        Row("gate", decision is null ? null : $"{(decision.Promoted ? "passed" : "rejected")}: {decision.Reason}");
        AnsiConsole.Write(grid);
        if (run.Status == RunStatus.Failed)
        {
            AnsiConsole.MarkupLine($"retry it on the same snapshot: feedbackloop runs retry {Markup.Escape(run.RunId)}");
        }

        return 0;
    }

    private static object RunJson(RunRecord run) => new
    {
        run = run.RunId,
        app = run.AppId,
        status = RegistryStatus(run.Status),
        trigger = RunNames.Text(run.Trigger),
        trigger_note = run.TriggerNote,
        snapshot_pairs = run.Snapshot.TotalPairs,
        snapshot_files = run.Snapshot.Files.Count,
        started_at = run.StartedAt,
        completed_at = run.CompletedAt,
        candidate = run.CandidateVersion,
        run.Reason,
    };

    private static string TriggerText(RunRecord run) => run.TriggerNote is null ? RunNames.Text(run.Trigger) : $"{RunNames.Text(run.Trigger)} ({run.TriggerNote})";

    private static string Status(RunStatus status) => status switch
    {
        RunStatus.Running => "[blue]running[/]",
        RunStatus.Completed => "[green]completed[/]",
        _ => "[red]failed[/]",
    };

    private static string RegistryStatus(Enum status) => status.ToString().ToLowerInvariant();
}
