using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FeedbackLoop.Orchestration.Registry;
using Spectre.Console;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop models rollouts [--app] [--json]</c> lists canary rollouts with their decisions;
/// <c>models rollouts halt|promote|rollback &lt;rollout&gt; --reason …</c> lets a person stop one or end it either way.
/// They write the store; the running orchestrator announces the end (ModelPromoted / ModelRolledBack) at its next sweep.
/// </summary>
internal static class RolloutsCommand
{
    public static Command Create()
    {
        var registry = RegistryFile.Option();
        var app = new Option<string?>("--app") { Description = "Only this app's rollouts." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var by = new Option<string>("--by") { Description = "Who takes the action (recorded); the OS user by default.", DefaultValueFactory = _ => Environment.UserName };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded with the decision and announced).", Required = true };
        var rollout = new Argument<string>("rollout") { Description = "The rollout id (`models rollouts` lists them)." };

        var halt = new Command("halt", "Stop an active rollout: every session gets the stable model again, and nothing is decided automatically until a person promotes or rolls it back.")
            { rollout, registry, by, reason };
        halt.SetAction(parse => RegistryFile.Run(parse, registry, r =>
        {
            var halted = r.HaltRollout(parse.GetValue(rollout)!, parse.GetValue(by)!, parse.GetValue(reason)!);
            AnsiConsole.MarkupLine($"halted [bold]{Markup.Escape(halted.RolloutId)}[/]: every session gets {Markup.Escape(halted.StableVersion)}; end it with 'models rollouts promote|rollback {Markup.Escape(halted.RolloutId)} --reason <why>'");
            return 0;
        }));

        var promote = new Command("promote", "End an open rollout by serving its canary to everyone, whatever the test says (recorded, announced as ModelPromoted).")
            { rollout, registry, by, reason };
        promote.SetAction(parse => RegistryFile.Run(parse, registry, r => End(r, parse.GetValue(rollout)!, true, parse.GetValue(by)!, parse.GetValue(reason)!)));

        var rollback = new Command("rollback", "End an open rollout by putting its stable model back for everyone (recorded on both versions, announced as ModelRolledBack).")
            { rollout, registry, by, reason };
        rollback.SetAction(parse => RegistryFile.Run(parse, registry, r => End(r, parse.GetValue(rollout)!, false, parse.GetValue(by)!, parse.GetValue(reason)!)));

        var list = new Command("rollouts", "List canary rollouts, newest first: canary and stable versions, share, state, and the latest decision with its numbers.")
            { registry, app, json, halt, promote, rollback };
        list.SetAction(parse => RegistryFile.Run(parse, registry, r => List(r, parse.GetValue(app), parse.GetValue(json))));
        return list;
    }

    private static int End(ModelRegistry registry, string rolloutId, bool promote, string by, string reason)
    {
        var ended = registry.EndRolloutByPerson(rolloutId, promote, by, reason);
        var serving = promote ? ended.Version : ended.StableVersion;
        AnsiConsole.MarkupLine(
            $"{(promote ? "promoted" : "rolled back")} [bold]{Markup.Escape(ended.RolloutId)}[/]: every session gets {Markup.Escape(serving)}" +
            "\nthe running orchestrator announces it on the bus at its next sweep (" + (promote ? "ModelPromoted" : "ModelRolledBack") + ")");
        return 0;
    }

    private static int List(ModelRegistry registry, string? app, bool json)
    {
        var rollouts = registry.ListRollouts(app);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rollouts.Select(r => Json(registry, r)), RegistryFile.Json));
            return 0;
        }

        if (rollouts.Count == 0)
        {
            Console.Error.WriteLine($"no rollouts{(app is null ? "" : $" of app '{app}'")} in {registry.DatabasePath} yet");
            return 0;
        }

        var table = new Table().AddColumns("rollout", "app", "canary", "stable", "share", "state", "started", "latest decision");
        foreach (var rollout in rollouts)
        {
            var decisions = registry.RolloutDecisions(rollout.RolloutId);
            var latest = decisions.Count == 0 ? null : decisions[^1];
            table.AddRow(
                Markup.Escape(rollout.RolloutId), Markup.Escape(rollout.AppId), Markup.Escape(rollout.Version), Markup.Escape(rollout.StableVersion),
                string.Create(CultureInfo.InvariantCulture, $"{rollout.CanaryPercent}%"), rollout.StateText,
                rollout.StartedAt.ToString("u", CultureInfo.InvariantCulture),
                Markup.Escape(latest is null ? "(none yet)" : $"{latest.Decision} by {latest.Actor}: {latest.Reason}"));
        }

        AnsiConsole.Write(table);
        return 0;
    }

    private static object Json(ModelRegistry registry, RolloutRecord rollout) => new
    {
        rollout_id = rollout.RolloutId,
        app = rollout.AppId,
        version = rollout.Version,
        stable_version = rollout.StableVersion,
        canary_percent = rollout.CanaryPercent,
        max_duration_seconds = rollout.MaxDuration.TotalSeconds,
        state = rollout.StateText,
        started_at = rollout.StartedAt,
        ended_at = rollout.EndedAt,
        reason = rollout.Reason,
        decisions = registry.RolloutDecisions(rollout.RolloutId).Select(d => new
        {
            decision = d.Decision,
            actor = d.Actor,
            by_person = d.ByPerson,
            reason = d.Reason,
            stable = d.Stable is { } s ? new { shown = s.Shown, engaged = s.Engaged, rate = s.Rate } : null,
            canary = d.Canary is { } c ? new { shown = c.Shown, engaged = c.Engaged, rate = c.Rate } : null,
            interval = d.Interval is { } i ? new[] { i.Lower, i.Upper } : null,
            decided_at = d.DecidedAt,
        }),
    };
}
