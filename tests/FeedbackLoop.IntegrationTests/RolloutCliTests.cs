using System.Text.Json;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Registry;
using MassTransit.Testing;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 14, item 5, as an operator meets it: <c>models approve|promote|rollback</c> and <c>runs</c> as processes on a
/// store a real loop fills (MassTransit in memory, the stand-in trainer as a real process).
/// </summary>
public sealed class RolloutCliTests : IAsyncDisposable
{
    private readonly JobLoop _loop = new();

    private string Store => _loop.Registry.DatabasePath;

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task Approving_the_older_waiting_candidate_after_the_newer_is_refused_until_forced_and_the_force_is_recorded()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, requireSignoff: true));
        await _loop.CommitAsync(120);
        await _loop.RunEndedAsync(1);
        await _loop.CommitAsync(120);
        await _loop.RunEndedAsync(2);
        await _loop.Harness.Stop();

        var (newer, newerOut) = await ServeJobProcesses.CliAsync("models", "approve", "demo-m240", "--store", Store);
        var (older, olderOut) = await ServeJobProcesses.CliAsync("models", "approve", "demo-m120", "--store", Store);

        Assert.True(newer == 0, newerOut);
        Assert.Equal(2, older);
        Assert.Contains("'demo-m120' was gated against no model, but the app's current model is now 'demo-m240'", olderOut, StringComparison.Ordinal);
        Assert.Equal("demo-m240", _loop.Registry.CurrentModel("demo")!.Version);

        var (unexplained, unexplainedOut) = await ServeJobProcesses.CliAsync("models", "approve", "demo-m120", "--force", "--store", Store);
        var (forced, forcedOut) = await ServeJobProcesses.CliAsync(
            "models", "approve", "demo-m120", "--force", "--reason", "m240 regressed on refunds", "--by", "ana", "--store", Store);

        Assert.Equal(2, unexplained);
        Assert.Contains("--force needs --reason", unexplainedOut, StringComparison.Ordinal);
        Assert.True(forced == 0, forcedOut);
        Assert.Contains("forced over", forcedOut, StringComparison.Ordinal);
        var action = Assert.Single(_loop.Registry.ListActions("demo-m120"));
        Assert.Equal(("approve", "ana", "m240 regressed on refunds", true, "demo-m240"), (action.Action, action.Actor, action.Note, action.Forced, action.OtherVersion));

        // Rolled back, both versions say so; show --json prints it.
        var (rollback, rollbackOut) = await ServeJobProcesses.CliAsync("models", "rollback", "--reason", "wrong call", "--store", Store);
        var (show, showOut) = await ServeJobProcesses.CliAsync("models", "show", "demo-m120", "--json", "--store", Store);

        Assert.True(rollback == 0, rollbackOut);
        Assert.Contains("rolled back app demo to demo-m240 (was demo-m120)", rollbackOut, StringComparison.Ordinal);
        Assert.True(show == 0, showOut);
        using var json = JsonDocument.Parse(showOut);
        Assert.Equal(["approve", "rolled_back"], json.RootElement.GetProperty("actions").EnumerateArray().Select(a => a.GetProperty("action").GetString()));
        Assert.Equal("rollback", _loop.Registry.ListActions("demo-m240")[^1].Action);
    }

    [Fact]
    public async Task Runs_start_is_taken_up_by_the_running_orchestrator_and_every_run_says_what_triggered_it()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        await _loop.CommitAsync(120);
        var first = await _loop.RunEndedAsync(1);

        var (start, startOut) = await ServeJobProcesses.CliAsync("runs", "start", "--app", "demo", "--data", _loop.Root, "--by", "ana", "--reason", "labels fixed", "--store", Store);

        Assert.True(start == 0, startOut);
        Assert.Contains("started run demo-run-000000120-manual2 (manual, 120 pairs", startOut, StringComparison.Ordinal);
        var manual = await _loop.RunEndedAsync(2);
        Assert.Equal(("demo-run-000000120-manual2", RunStatus.Completed), (manual.RunId, manual.Status));
        Assert.NotNull(_loop.Registry.GetModel("demo-m120-manual2"));

        var (list, listOut) = await ServeJobProcesses.CliAsync("runs", "list", "--json", "--store", Store);
        Assert.True(list == 0, listOut);
        using var runs = JsonDocument.Parse(listOut);
        Assert.Equal(
            [("demo-run-000000120-manual2", "manual", "by ana: labels fixed"), (first.RunId, "pairs", null)],
            runs.RootElement.EnumerateArray().Select(r => (r.GetProperty("run").GetString(), r.GetProperty("trigger").GetString(), r.GetProperty("trigger_note").GetString())));

        var (retry, retryOut) = await ServeJobProcesses.CliAsync("runs", "retry", first.RunId, "--store", Store);
        Assert.Equal(2, retry);
        Assert.Contains("only a failed run is retried: start a new one with 'feedbackloop runs start --app demo'", retryOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("models promote --help", "--force")]
    [InlineData("models promote --help", "A candidate the gate rejected, or one gated against a model that no longer serves, is refused unless --force --reason")]
    [InlineData("models approve --help", "--force")]
    [InlineData("runs --help", "retry")]
    [InlineData("runs start --help", "--app")]
    public async Task Help_says_what_force_does_and_what_runs_can_do(string command, string words)
    {
        var (exit, output) = await ServeJobProcesses.CliAsync(command.Split(' '));

        Assert.True(exit == 0, output);
        // Help wraps long descriptions; the words are checked with the wrapping undone.
        Assert.Contains(words, string.Join(' ', output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.DoesNotContain("whatever the gate said", output, StringComparison.Ordinal);
    }
}
