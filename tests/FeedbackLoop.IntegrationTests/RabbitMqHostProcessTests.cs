using FeedbackLoop.Cli.Commands;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Transport;

namespace FeedbackLoop.IntegrationTests;

/// <summary><c>serve --role orchestrator|worker</c> over RabbitMQ as processes: a failed login is one line, SIGTERM a clean exit.</summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqHostProcessTests(RabbitMqBroker broker) : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "feedbackloop-rmqhost-" + Guid.NewGuid().ToString("N"))).FullName;

    [Theory]
    [InlineData("orchestrator")]
    [InlineData("worker")]
    public async Task A_wrong_password_prints_one_clear_line_and_exits_1(string role)
    {
        var good = await broker.NewVirtualHostAsync("cli-login");
        var wrong = new RabbitMqSettings(good.Host, good.Port, good.VirtualHost, good.User, "wrong-pw");

        using var serve = CliProcess.Start(RabbitMqBroker.EnvironmentFor(wrong), "serve", "--role", role, "--data", Path.Combine(_root, "data"),
            "--store", Path.Combine(_root, "store", "registry.db"));
        var exit = await serve.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, exit);
        var line = Assert.Single(serve.ErrorLines, l => l.Length > 0);
        Assert.Contains($"refused the login of user '{good.User}'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pw", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Orchestrator_and_worker_exit_0_within_10_s_of_SIGTERM()
    {
        var settings = await broker.NewVirtualHostAsync("cli-stop");
        var environment = RabbitMqBroker.EnvironmentFor(settings);
        using var orchestrator = CliProcess.Start(environment, "serve", "--role", "orchestrator", "--data", Path.Combine(_root, "data"),
            "--store", Path.Combine(_root, "store", "registry.db"), "--sweep", "200ms");
        using var worker = CliProcess.Start(environment, "serve", "--role", "worker", "--data", Path.Combine(_root, "data"), "--worker-id", "w-stop");
        Assert.StartsWith(ServeCommand.ReadyLinePrefix + "role=orchestrator", await orchestrator.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)), StringComparison.Ordinal);
        Assert.StartsWith(ServeCommand.ReadyLinePrefix + "role=worker", await worker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)), StringComparison.Ordinal);

        foreach (var process in new[] { worker, orchestrator })
        {
            var (exit, took) = await process.TerminateAsync(TimeSpan.FromSeconds(10));
            Assert.True(exit == 0, $"exit {exit}:\n{process.Output}");
            Assert.True(took < TimeSpan.FromSeconds(10), $"stopped after {took.TotalSeconds:0.0} s:\n{process.Output}");
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
