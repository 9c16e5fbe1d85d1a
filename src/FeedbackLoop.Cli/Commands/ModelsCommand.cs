using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop models list|show|promote|rollback|approve</c>: the model registry, and the actions people take on it
/// (each recorded with who took it). They work on the durable store directly, so they need no running orchestrator.
/// </summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var registry = RegistryFile.Option();
        var app = new Option<string?>("--app") { Description = "The app id; needed only when the store holds models of more than one app." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var by = new Option<string>("--by") { Description = "Who takes the action (recorded); the OS user by default.", DefaultValueFactory = _ => Environment.UserName };
        var note = new Option<string?>("--reason", "--note") { Description = "Why (recorded with the action); required with --force." };
        var force = new Option<bool>("--force")
        {
            Description = "Override a refusal: a candidate the gate rejected, or one gated against a model that no longer serves. Needs --reason; the action is recorded as forced, with what it overrode.",
        };
        var version = new Argument<string>("version") { Description = "The model version." };
        var to = new Option<string?>("--to") { Description = "The retired version to go back to; by default the most recently retired one that a rollback has not replaced since it last served (two rollbacks in a row go further back)." };

        var list = new Command("list", "List every model version of an app (of every app without --app): status, snapshot size, training metrics and the gate's decision.") { registry, app, json };
        list.SetAction(parse => RegistryFile.Run(parse, registry, r => List(r, parse.GetValue(app), parse.GetValue(json))));

        var show = new Command("show", "Show one version: its run, data, artifact, metrics, gate decision and the actions taken on it.") { version, registry, json };
        show.SetAction(parse => RegistryFile.Run(parse, registry, r => Show(r, parse.GetValue(version)!, parse.GetValue(json))));

        var promote = new Command(
            "promote",
            "Make a version the app's current model by hand: a candidate that passed the gate against the current model, an undecided candidate, or a retired version. "
            + "A candidate the gate rejected, or one gated against a model that no longer serves, is refused unless --force --reason <why> (recorded).")
        { version, registry, by, note, force };
        promote.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var v = parse.GetValue(version)!;
            var previous = r.PromoteByHand(v, parse.GetValue(by)!, parse.GetValue(note), parse.GetValue(force));
            AnsiConsole.MarkupLine($"promoted [bold]{Markup.Escape(v)}[/] (replaces {Markup.Escape(previous ?? "nothing")}){Forced(r, v)}{Announced}");
            return 0;
        }));

        var rollback = new Command("rollback", "Put back the model the app served before its current one; recorded on both versions (rollback, rolled_back).") { registry, app, to, by, note };
        rollback.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var appId = RegistryFile.App(r, parse.GetValue(app));
            var previous = r.CurrentModel(appId)?.Version;
            var now = r.Rollback(appId, parse.GetValue(to), parse.GetValue(by)!, parse.GetValue(note));
            AnsiConsole.MarkupLine($"rolled back app {Markup.Escape(appId)} to [bold]{Markup.Escape(now)}[/] (was {Markup.Escape(previous ?? "nothing")}){Announced}");
            return 0;
        }));

        var approve = new Command(
            "approve",
            "Approve a candidate that passed the gate and waits for sign-off (gate.require_signoff): it is promoted. "
            + "One gated against a model that no longer serves (another was promoted since) is refused unless --force --reason <why> (recorded).")
        { version, registry, by, note, force };
        approve.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var v = parse.GetValue(version)!;
            var previous = r.Approve(v, parse.GetValue(by)!, parse.GetValue(note), parse.GetValue(force));
            AnsiConsole.MarkupLine($"approved and promoted [bold]{Markup.Escape(v)}[/] (replaces {Markup.Escape(previous ?? "nothing")}){Forced(r, v)}{Announced}");
            return 0;
        }));

        return new Command("models", "Inspect the model registry; promote, approve or roll back models; list and steer canary rollouts.") { list, show, promote, rollback, approve, RolloutsCommand.Create() };
    }

    /// <summary>Who hears of it: the CLI writes the store; the orchestrator announces from there.</summary>
    private const string Announced = "\nthe running orchestrator announces it on the bus at its next sweep (ModelPromoted / ModelRolledBack)";

    /// <summary>What a forced action overrode, as the line after the result; empty when it was not forced.</summary>
    private static string Forced(ModelRegistry registry, string version) =>
        registry.ListActions(version)[^1] is { Forced: true, Overrode: { } overrode } ? $"\n[yellow]forced[/] over: {Markup.Escape(overrode)}" : "";

    private static int List(ModelRegistry registry, string? appOption, bool json)
    {
        var apps = appOption is null ? registry.ListApps() : [appOption];
        if (apps.Count == 0)
        {
            Console.Error.WriteLine($"no models in {registry.DatabasePath} yet");
            if (json)
            {
                Console.WriteLine("[]");
            }

            return 0;
        }

        // One app: the same JSON object as with --app. Several: an array of them.
        if (json)
        {
            var objects = apps.Select(a => ListJson(registry, a)).ToList();
            Console.WriteLine(JsonSerializer.Serialize(objects.Count == 1 ? objects[0] : objects, RegistryFile.Json));
            return 0;
        }

        foreach (var appId in apps)
        {
            ListTable(registry, appId, apps.Count > 1);
        }

        return 0;
    }

    private static object ListJson(ModelRegistry registry, string appId)
    {
        var runs = registry.ListRuns(appId).ToDictionary(r => r.RunId);
        return new
        {
            app = appId,
            current = registry.CurrentModel(appId)?.Version,
            models = registry.ListModels(appId).Select(m => ModelJson(m, runs.GetValueOrDefault(m.Model.RunId))),
        };
    }

    private static void ListTable(ModelRegistry registry, string appId, bool titled)
    {
        var runs = registry.ListRuns(appId).ToDictionary(r => r.RunId);
        var models = registry.ListModels(appId);
        var current = registry.CurrentModel(appId)?.Version;
        if (titled)
        {
            AnsiConsole.MarkupLine($"[bold]app {Markup.Escape(appId)}[/]");
        }

        var table = new Table().AddColumns("version", "status", "parent", "snapshot (files / pairs)", "train metrics", "gate decision");
        foreach (var entry in models)
        {
            var model = entry.Model;
            var snapshot = runs.TryGetValue(model.RunId, out var run) ? $"{run.Snapshot.Files.Count} / {run.Snapshot.TotalPairs}" : "?";
            table.AddRow(Markup.Escape(model.Version), Markup.Escape(entry.StatusText), Markup.Escape(model.ParentVersion ?? "—"),
                snapshot, Markup.Escape(model.TrainMetricsJson), Markup.Escape(entry.Decision?.Reason ?? "(not decided)"));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"current: {Markup.Escape(current ?? "none")}");
        var waiting = models.Where(m => m.AwaitingSignoff).Select(m => m.Model.Version).ToList();
        if (waiting.Count > 0)
        {
            AnsiConsole.MarkupLine($"[yellow]awaiting sign-off[/]: {Markup.Escape(string.Join(", ", waiting))} (feedbackloop models approve <version>)");
        }
    }

    private static int Show(ModelRegistry registry, string version, bool json)
    {
        var model = registry.GetModel(version) ?? throw new InvalidOperationException($"model version '{version}' is unknown");
        var entry = registry.ListModels(model.AppId).Single(m => m.Model.Version == version);
        var run = registry.GetRun(model.RunId);
        var actions = registry.ListActions(version);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = ModelJson(entry, run),
                actions = actions.Select(a => new { a.Action, a.Actor, acted_at = a.ActedAt, a.Note, a.Forced, a.Overrode, other_version = a.OtherVersion }),
            }, RegistryFile.Json));
            return 0;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value) => grid.AddRow($"[bold]{name}[/]", Markup.Escape(value ?? "—"));
        Row("version", model.Version);
        Row("app", model.AppId);
        Row("status", entry.StatusText);
        Row("parent", model.ParentVersion);
        Row("run", run is null ? model.RunId : $"{run.RunId} ({RegistryStatus(run.Status)}{(run.Reason is null ? "" : ": " + run.Reason)})");
        Row("snapshot", run is null ? null : string.Create(CultureInfo.InvariantCulture, $"{run.Snapshot.SnapshotId ?? "(files only)"}: {run.Snapshot.Files.Count} files, {run.Snapshot.TotalPairs} pairs"));
        Row("artifact", model.ArtifactPath);
        Row("created", model.CreatedAt.ToString("u", CultureInfo.InvariantCulture));
        Row("train metrics", model.TrainMetricsJson);
        Row("gate", entry.Decision is null ? "(not decided)" : $"{(entry.Decision.Promoted ? "passed" : "rejected")}: {entry.Decision.Reason}");
        Row("gated against", entry.Decision is null ? null : entry.Decision.GatedAgainst ?? "no model (the app had none)");
        foreach (var action in actions)
        {
            var other = action.OtherVersion is null ? "" : action.Action == "rolled_back" ? $" (to {action.OtherVersion})" : $" (replaced {action.OtherVersion})";
            var forced = action.Forced ? $" [forced over: {action.Overrode}]" : "";
            Row(action.Action, $"{action.Actor} at {action.ActedAt.ToString("u", CultureInfo.InvariantCulture)}{other}{(action.Note is null ? "" : ": " + action.Note)}{forced}");
        }

        AnsiConsole.Write(grid);
        return 0;
    }

    private static string RegistryStatus(RunStatus status) => status.ToString().ToLowerInvariant();

    private static object ModelJson(ModelHistoryEntry entry, RunRecord? run)
    {
        var model = entry.Model;
        using var metrics = JsonDocument.Parse(model.TrainMetricsJson);
        return new
        {
            model.Version,
            app = model.AppId,
            status = entry.StatusText,
            parent = model.ParentVersion,
            run = model.RunId,
            snapshot_id = run?.Snapshot.SnapshotId,
            snapshot_pairs = run?.Snapshot.TotalPairs,
            snapshot_files = run?.Snapshot.Files.Count,
            artifact = model.ArtifactPath,
            created_at = model.CreatedAt,
            train_metrics = metrics.RootElement.Clone(),
            decision = entry.Decision is { } d
                ? new
                {
                    passed = d.Promoted, candidate = d.CandidateAccuracy, incumbent = d.IncumbentAccuracy, d.Difference, d.Lower95, d.Reason, decided_at = d.DecidedAt,
                    gated_against = d.GatedAgainst,
                }
                : null,
        };
    }
}

/// <summary>The <c>--registry</c> option the registry and job commands share, and how they open it and report errors.</summary>
internal static class RegistryFile
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Option<string?> Option() => new("--store", "--registry")
    {
        Description = $"The store: a SQLite file (registry.db), or a PostgreSQL database as postgres://user@host:port/db (password from ${StoreLocation.PasswordVariable}, ${StoreLocation.PasswordFileVariable} or PGPASSWORD). Default: ${LoopLocations.StoreVariable}, else the configuration file's {LoopLocations.StoreKey}, else ~/.local/state/feedbackloop/registry.db (where `serve` keeps it). The demo writes its own into <out>/registry.db.",
    };

    /// <summary>
    /// The app a command acts on: the one given, else the store's only app; with several apps and none given, a
    /// message that names them.
    /// </summary>
    public static string App(ModelRegistry registry, string? app)
    {
        if (app is not null)
        {
            return app;
        }

        var apps = registry.ListApps();
        return apps.Count switch
        {
            1 => apps[0],
            0 => throw new InvalidOperationException($"no app has models in {registry.DatabasePath} yet"),
            _ => throw new InvalidOperationException($"{registry.DatabasePath} holds models of {apps.Count} apps ({string.Join(", ", apps)}): pass --app <one of them>"),
        };
    }

    /// <summary>Runs <paramref name="action"/> on the registry; a missing file or a refused action is a message and exit code 2, never a stack trace.</summary>
    public static int Run(ParseResult parse, Option<string?> option, Func<ModelRegistry, int> action)
    {
        string store;
        try
        {
            store = LoopLocations.Resolve(null, parse.GetValue(option)).Store;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        if (StoreLocation.Parse(store).Engine == StoreEngine.Sqlite && !File.Exists(store))
        {
            Console.Error.WriteLine($"No registry at {store}: run `serve` or the demo first, or pass --store <path to registry.db> (or set {LoopLocations.StoreVariable}).");
            return 2;
        }

        try
        {
            return action(new ModelRegistry(store));
        }
        catch (System.Data.Common.DbException e)
        {
            // The PostgreSQL store cannot be reached or refused us; Npgsql's messages never carry the password.
            Console.Error.WriteLine($"{store}: {e.Message}");
            return 2;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"{store}: {e.Message}");
            return 2;
        }
    }
}
