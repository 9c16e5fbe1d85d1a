using System.CommandLine;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Pipelines;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop demo</c>: the closed loop in one process with a simulated chat app — SDK → embedded
/// Kafka → extractors → Parquet → retrain trigger → ML.NET reward model → eval gate → promotion → the app
/// switches model. Writes report.json, report.png, the datasets and the model registry.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder for report.json, report.png, datasets/, models/ and registry.db.", DefaultValueFactory = _ => new DirectoryInfo("demo-out") };
        var seed = new Option<int>("--seed") { Description = "Seed of the simulated users, prompts and reactions.", DefaultValueFactory = _ => 7 };
        var users = new Option<int>("--users") { Description = "Simulated users, each with hidden tastes.", DefaultValueFactory = _ => 400 };
        var generations = new Option<int>("--generations") { Description = "Stop after this many promoted models (or when --rounds run out).", DefaultValueFactory = _ => DefaultGenerations };
        var rounds = new Option<int>("--rounds") { Description = "At most this many rounds of traffic (a round: --prompts-per-round prompts, three simulated minutes).", DefaultValueFactory = _ => DefaultRounds };
        var prompts = new Option<int>("--prompts-per-round") { Description = "Prompts answered per round; the app checks for a newly promoted model between rounds.", DefaultValueFactory = _ => 150 };
        var pipeline = new Option<FileInfo?>("--pipeline") { Description = "Pipeline file (YAML); the demo's built-in settings when absent." };
        var driftRound = new Option<int>("--drift-round") { Description = "Round from which the users' tastes drift (they come to want thorough answers; docs/ROLLOUT.md); 0 turns the drift off.", DefaultValueFactory = _ => DefaultDriftRound };
        var faultyCanary = new Option<int>("--faulty-canary") { Description = "Break this canary on purpose (1 = the first): the app serves it with its ranking reversed, so the run shows an automatic rollback; the report names it. 0 turns it off.", DefaultValueFactory = _ => DefaultFaultyCanary };
        var viaCollector = new Option<bool>("--via-collector") { Description = "Send the app's events through the HTTP collector (serve --role collector, in this process) instead of straight to Kafka." };
        var command = new Command("demo", "Run the closed loop on a simulated chat app and report how each model generation did.")
        {
            output, seed, users, generations, rounds, prompts, pipeline, viaCollector, driftRound, faultyCanary,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(output)!, parse.GetValue(seed), parse.GetValue(users), parse.GetValue(generations),
            parse.GetValue(rounds), parse.GetValue(prompts), parse.GetValue(pipeline), parse.GetValue(viaCollector), parse.GetValue(driftRound), parse.GetValue(faultyCanary), ct));
        return command;
    }

    /// <summary>
    /// The most rounds a default run serves: when the gate stops passing candidates (its held-out accuracy saturates near
    /// 0.65–0.7 on these noisy users) the run ends here rather than at 60 rounds, which took over 4 minutes on 2 shared cores.
    /// 52 (was 44; docs/adr/0042): the last generation now serves until it was shown 1,000 times, about eight rounds, and
    /// a run that has promoted three models keeps learning until <see cref="ClosingRounds"/> before the end.
    /// </summary>
    internal const int DefaultRounds = 52;

    /// <summary>The promotions a default run waits for (issue 14's bar); it may make more while it is still learning.</summary>
    internal const int DefaultGenerations = 3;

    /// <summary>
    /// The last rounds of a run in which no new run starts once it has its promotions: a canary's time limit (ten rounds)
    /// and about eight rounds to show its model 1,000 times, plus one for the tuning run. Before them the loop keeps
    /// learning after its third promotion (docs/adr/0042): a run that stopped at the third ended with whatever model passed
    /// third, which after an early pass had learnt the drifted taste from a few rounds only; and a model promoted in these
    /// last rounds would be measured on a few hundred outputs.
    /// </summary>
    internal const int ClosingRounds = 20;

    /// <summary>The round from which users' tastes drift by default: after the first models learned the old tastes.</summary>
    internal const int DefaultDriftRound = 12;

    /// <summary>
    /// The canary the demo breaks by default: the first, so every default run shows a rollback on evidence however many
    /// generations it gets to (docs/ROLLOUT.md).
    /// </summary>
    internal const int DefaultFaultyCanary = 1;

    /// <summary>The demo's pipeline when no file is given: retrain every 30 new pairs (small on purpose: the first models are weak, so the loop has room to show progress), hold out a quarter.</summary>
    internal static PipelineDefinition DemoPipeline { get; } = DemoOnly(AppPipeline.Builtin with
    {
        Retrain = new RetrainSettings(30),
        Split = new SplitSettings(0.25),
        Gate = new GateSettings(0.02, RequireSignoff: false),
        // The users' tastes drift, so the gate judges on the recent held-out pairs, as the trainer weighs recent feedback
        // (the same 30 simulated minutes, ten rounds); at least 100 of them (docs/adr/0039).
        Eval = EvalSettings.Builtin with { Recency = new RecentEvalPairs(TimeSpan.FromMinutes(30), RecentEvalPairs.DefaultMinPairs) },
        // Half the sessions, so a canary reaches the test's minimum sample within a few rounds of the demo's small traffic.
        // The time limit is in the simulation's time, a round every three minutes: ten rounds, about 1,000 outputs shown per
        // arm, after which an undecided canary is promoted as the product's default says (only evidence rolls back).
        Rollout = new RolloutSettings(RolloutSettings.MaxCanaryPercent, TimeSpan.FromMinutes(30)),
    });

    /// <summary>The demo app registered with <paramref name="app"/>'s settings: the only app that may train.</summary>
    private static PipelineDefinition DemoOnly(AppPipeline app) =>
        new("built-in demo pipeline", app, new Dictionary<string, AppPipeline> { [DemoRunner.AppId] = app });

    private static async Task<int> RunAsync(DirectoryInfo output, int seed, int users, int generations, int rounds, int prompts, FileInfo? pipelineFile, bool viaCollector, int driftRound, int faultyCanary, CancellationToken ct)
    {
        if (users < 1 || generations < 1 || rounds < 1 || prompts < 10 || driftRound < 0 || faultyCanary < 0)
        {
            await Console.Error.WriteLineAsync("--users, --generations and --rounds must be positive, --prompts-per-round at least 10, --drift-round and --faulty-canary at least 0.").ConfigureAwait(false);
            return 2;
        }
        PipelineDefinition pipeline;
        try
        {
            pipeline = pipelineFile is null ? DemoPipeline : PipelineLoader.Load(pipelineFile.FullName);
        }
        catch (PipelineException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 2;
        }
        if (!pipeline.IsRegistered(DemoRunner.AppId))
        {
            await Console.Error.WriteLineAsync($"the demo simulates app '{DemoRunner.AppId}', which {pipeline.SourceName} does not register: to run it, {pipeline.HowToRegister}.").ConfigureAwait(false);
            return 2;
        }

        AnsiConsole.MarkupLine("[bold]FeedbackLoop demo[/] — [yellow]a simulation[/]: a chat app whose synthetic users have hidden tastes in answers.");
        AnsiConsole.MarkupLine("The app shows the answer its current reward model ranks best (random before any model); users' reactions flow");
        AnsiConsole.MarkupLine("through the real SDK → embedded Kafka → extractors → Parquet → tuning → eval gate → canary on half the sessions →");
        AnsiConsole.MarkupLine("sequential test → promoted or rolled back → the app.");
        if (faultyCanary > 0)
            AnsiConsole.MarkupLine($"[yellow]injected fault[/]: canary {faultyCanary} is served with its ranking reversed on purpose, to show an automatic rollback (--faulty-canary 0: off).");
        using var logging = CliLogging.Create();
        var runner = new DemoRunner(new DemoOptions(output.FullName, seed, users, generations, prompts, rounds, 4, pipeline, viaCollector, driftRound, faultyCanary,
            LearnUntilRound: Math.Max(0, rounds - ClosingRounds)), logging);
        DemoReport? report = null;
        if (Console.IsOutputRedirected)
        {
            // No progress bar into a pipe or a file: only the results below.
            report = await runner.RunAsync(_ => { }, ct).ConfigureAwait(false);
        }
        else
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask("starting", maxValue: rounds);
                    report = await runner.RunAsync(p =>
                    {
                        task.Value = p.Round;
                        task.Description = Markup.Escape($"round {p.Round}/{p.Rounds} · serving {p.ModelVersion} · {p.EventsEmitted:N0} events · {p.Pairs:N0} pairs");
                    }, ct).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                }).ConfigureAwait(false);
        }

        var table = new Table().AddColumns("generation", "model", "shown", "thumbs-up rate", "train pairs", "gate");
        for (var i = 0; i < report!.Generations.Count; i++)
        {
            var g = report.Generations[i];
            table.AddRow(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(g.ModelVersion), g.Shown.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                g.ThumbsUpRate.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture), g.TrainPairs.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(g.Eval?.Reason ?? "— (no model yet: random choice)"));
        }
        AnsiConsole.Write(table);

        var registry = new ModelRegistry(Path.Combine(output.FullName, "registry.db"));
        var rejected = registry.ListModels("demo").Where(m => m.Model.Status == ModelStatus.Rejected).ToList();
        foreach (var r in rejected) AnsiConsole.MarkupLine($"[grey]rejected {Markup.Escape(r.Model.Version)}: {Markup.Escape(r.Decision?.Reason ?? "")}[/]");

        var jsonPath = Path.Combine(output.FullName, "report.json");
        var pngPath = Path.Combine(output.FullName, "report.png");
        await File.WriteAllTextAsync(jsonPath, report.ToJson(), ct).ConfigureAwait(false);
        report.SavePlot(pngPath);
        foreach (var r in report.Rollouts)
        {
            AnsiConsole.MarkupLine(Markup.Escape(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"canary {r.Version} ({r.CanaryPercent:0}% of sessions, {r.Sessions:N0} sessions in the rollout): {r.Decision.Replace('_', ' ')} — {r.Reason}")));
        }
        if (report.InjectedFault is { } fault)
        {
            AnsiConsole.MarkupLine(Markup.Escape(fault.Version is { } faulty
                ? $"injected fault (--faulty-canary {fault.Canary}): canary {faulty} was served with its ranking reversed on purpose; --faulty-canary 0 turns this off"
                : $"injected fault (--faulty-canary {fault.Canary}): the run ended before that canary"));
        }
        if (report.Drift is { } drift)
        {
            AnsiConsole.MarkupLine(drift.Generation is { } at
                ? $"users' tastes drifted from round {drift.Round} (during generation {at})"
                : $"users' tastes would have drifted from round {drift.Round}; the demo ended before it");
        }
        AnsiConsole.MarkupLine($"random chooser {report.RandomThumbsUpRate:0.000} · oracle {report.OracleThumbsUpRate:0.000} · events emitted {report.EventsEmitted:N0}, ingested {report.EventsIngested:N0}, dead-lettered {report.EventsDeadLettered:N0} · {report.ElapsedSeconds:0.0} s");
        AnsiConsole.MarkupLine($"report: {Markup.Escape(jsonPath)}, {Markup.Escape(pngPath)}");
        AnsiConsole.MarkupLine($"datasets: {Markup.Escape(Path.Combine(output.FullName, "datasets", "demo"))} · registry: {Markup.Escape(registry.DatabasePath)}");
        AnsiConsole.MarkupLine($"look at it with: feedbackloop models list --store {Markup.Escape(registry.DatabasePath)}");
        return 0;
    }
}
