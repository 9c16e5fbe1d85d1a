using System.CommandLine;
using System.Globalization;
using FeedbackLoop.Orchestration.Registry;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary><c>feedbackloop models list</c>: every model version of an app with its run, snapshot, metrics and gate decision.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var registry = new Option<FileInfo>("--registry") { Description = "The registry database (the demo writes <out>/registry.db).", DefaultValueFactory = _ => new FileInfo(Path.Combine("demo-out", "registry.db")) };
        var app = new Option<string>("--app") { Description = "The app id.", DefaultValueFactory = _ => "demo" };
        var list = new Command("list", "List every model version: status, snapshot size, training metrics and the gate's decision.") { registry, app };
        list.SetAction(parse => List(parse.GetValue(registry)!, parse.GetValue(app)!));
        return new Command("models", "Inspect the model registry.") { list };
    }

    private static int List(FileInfo registryFile, string appId)
    {
        if (!registryFile.Exists)
        {
            Console.Error.WriteLine($"No registry at {registryFile.FullName}: run the demo first, or pass --registry <path to registry.db>.");
            return 2;
        }
        var registry = new ModelRegistry(registryFile.FullName);
        var runs = registry.ListRuns(appId).ToDictionary(r => r.RunId);
        var table = new Table().AddColumns("version", "status", "parent", "snapshot (files / pairs)", "train metrics", "gate decision");
        foreach (var entry in registry.ListModels(appId))
        {
            var model = entry.Model;
            var snapshot = runs.TryGetValue(model.RunId, out var run) ? $"{run.Snapshot.Files.Count} / {run.Snapshot.TotalPairs}" : "?";
            table.AddRow(Markup.Escape(model.Version), model.Status.ToString().ToLowerInvariant(), Markup.Escape(model.ParentVersion ?? "—"),
                snapshot, Markup.Escape(model.TrainMetricsJson), Markup.Escape(entry.Decision?.Reason ?? "(not decided)"));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"current: {Markup.Escape(registry.CurrentModel(appId)?.Version ?? "none")}"));
        return 0;
    }
}
