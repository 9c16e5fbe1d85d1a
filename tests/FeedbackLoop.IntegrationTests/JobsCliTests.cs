using System.Text.Json;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Registry;
using MassTransit.Testing;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>feedbackloop jobs</c> and <c>models</c> as processes on a store a real run filled (one run held for sign-off):
/// what they print, what they change, and the message and exit code 2 of everything they refuse.
/// </summary>
public sealed class JobsCliTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly JobLoop _loop = new();
    private RunRecord _run = null!;

    private string Registry => _loop.Registry.DatabasePath;

    public async Task InitializeAsync()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, requireSignoff: true));
        await _loop.CommitAsync(120);
        _run = await _loop.RunEndedAsync();
        await _loop.Harness.Stop();
    }

    Task IAsyncLifetime.DisposeAsync() => Task.CompletedTask;

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task Jobs_list_and_show_print_the_store_as_json()
    {
        var (listExit, list) = await ServeJobProcesses.CliAsync("jobs", "list", "--json", "--registry", Registry);
        var (showExit, show) = await ServeJobProcesses.CliAsync("jobs", "show", JobIds.Tune(_run.RunId), "--json", "--registry", Registry);

        Assert.True(listExit == 0, list);
        using var jobs = JsonDocument.Parse(list);
        Assert.Equal([JobIds.Eval(_run.RunId), JobIds.Tune(_run.RunId)], jobs.RootElement.EnumerateArray().Select(j => j.GetProperty("job").GetString()));
        Assert.All(jobs.RootElement.EnumerateArray(), j => Assert.Equal("succeeded", j.GetProperty("state").GetString()));
        Assert.True(showExit == 0, show);
        using var job = JsonDocument.Parse(show);
        var attempt = Assert.Single(job.RootElement.GetProperty("attempts").EnumerateArray());
        Assert.Equal(("succeeded", "w1"), (attempt.GetProperty("state").GetString(), attempt.GetProperty("worker").GetString()));
        Assert.Equal("command", job.RootElement.GetProperty("runner").GetString());
    }

    [Fact]
    public async Task Jobs_logs_prints_the_attempts_log_and_tail_keeps_the_end()
    {
        var (exit, output) = await ServeJobProcesses.CliAsync("jobs", "logs", JobIds.Tune(_run.RunId), "--tail", "2", "--registry", Registry);

        Assert.True(exit == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("succeeded", lines[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("jobs show no-such-job", "job 'no-such-job' is unknown")]
    [InlineData("jobs cancel no-such-job", "job 'no-such-job' is unknown")]
    [InlineData("jobs list --state paused", "--state paused: expected one of pending, offered, running, succeeded, failed, cancelled")]
    [InlineData("jobs logs {tune} --attempt 7", "has no attempt 7")]
    [InlineData("models show demo-m1", "model version 'demo-m1' is unknown")]
    [InlineData("models rollback", "app 'demo' has no retired model to roll back to")]
    public async Task A_refused_command_says_why_and_exits_2(string command, string message)
    {
        var (exit, output) = await ServeJobProcesses.CliAsync([.. command.Replace("{tune}", JobIds.Tune(_run.RunId), StringComparison.Ordinal).Split(' '), "--registry", Registry]);

        Assert.Equal(2, exit);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_finished_job_is_refused()
    {
        var (exit, output) = await ServeJobProcesses.CliAsync("jobs", "cancel", JobIds.Eval(_run.RunId), "--registry", Registry);

        Assert.Equal(2, exit);
        Assert.Contains("is already succeeded", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_approve_promotes_the_candidate_waiting_for_sign_off_once()
    {
        var version = Assert.Single(_loop.Registry.ListModels(JobLoop.AppId)).Model.Version;
        var (listExit, list) = await ServeJobProcesses.CliAsync("models", "list", "--json", "--registry", Registry);
        Assert.True(listExit == 0, list);
        using (var before = JsonDocument.Parse(list))
        {
            Assert.Equal("awaiting_signoff", before.RootElement.GetProperty("models")[0].GetProperty("status").GetString());
        }

        var (exit, output) = await ServeJobProcesses.CliAsync("models", "approve", version, "--by", "reviewer", "--note", "spot-checked", "--registry", Registry);
        var (again, refusal) = await ServeJobProcesses.CliAsync("models", "approve", version, "--registry", Registry);

        Assert.True(exit == 0, output);
        Assert.Equal(version, _loop.Registry.CurrentModel(JobLoop.AppId)!.Version);
        var action = Assert.Single(_loop.Registry.ListActions(version));
        Assert.Equal(("approve", "reviewer", "spot-checked"), (action.Action, action.Actor, action.Note));
        Assert.Equal(2, again);
        Assert.Contains("is promoted, not a candidate waiting for sign-off", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_registry_is_named_with_what_to_do()
    {
        var missing = Path.Combine(_loop.Root, "nowhere", "registry.db");

        var (exit, output) = await ServeJobProcesses.CliAsync("jobs", "list", "--registry", missing);

        Assert.Equal(2, exit);
        Assert.Contains($"No registry at {missing}", output, StringComparison.Ordinal);
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public async Task Serving_a_single_role_without_a_broker_is_refused_before_anything_starts()
    {
        var (exit, output) = await ServeJobProcesses.CliAsync("serve", "--role", "worker", "--data", Path.Combine(_loop.Root, "serve"));

        Assert.Equal(2, exit);
        Assert.Contains("--role worker needs a broker to meet the other roles: set FEEDBACKLOOP_RABBITMQ=", output, StringComparison.Ordinal);
    }
}
