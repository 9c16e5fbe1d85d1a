using System.Net;
using System.Net.Sockets;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Tests.Transports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// <c>AddFeedbackLoopHealthCheck()</c> as the host's <see cref="HealthCheckService"/> serves it, against real HTTP: a
/// loopback port nobody listens on (every try is refused at once) and the loopback collector stub.
/// </summary>
public sealed class HealthCheckTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_unreachable_collector_is_degraded_while_retried_and_unhealthy_once_given_up()
    {
        using var host = await StartAsync(new()
        {
            ["FeedbackLoop:Http:Endpoint"] = $"http://127.0.0.1:{ClosedPort()}",
            ["FeedbackLoop:Http:WriteKey"] = "wk-secret-value",
            ["FeedbackLoop:Retry:InitialBackoff"] = "00:00:00.050",
            ["FeedbackLoop:Retry:MaxBackoff"] = "00:00:00.200",
            ["FeedbackLoop:Retry:TimeBudget"] = "00:00:04",
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var feedback = host.Services.GetRequiredService<IFeedbackClient>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["feedbackloop"].Status); // nothing sent yet

        feedback.Thumb("s1", "u1", "g1", ThumbValue.Up);

        await Eventually.HoldsAsync(() => Status(health) == HealthStatus.Degraded, Deadline, "degraded while retrying");
        await Eventually.HoldsAsync(() => Status(health) == HealthStatus.Unhealthy, Deadline, "unhealthy after the budget");
        var entry = (await health.CheckHealthAsync()).Entries["feedbackloop"];
        Assert.Equal(1L, entry.Data["failed"]);
        Assert.Equal("GivingUp", entry.Data["state"]);
        Assert.DoesNotContain("wk-secret-value", entry.Description + string.Join(",", entry.Data.Values), StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_collector_that_answers_is_healthy_and_the_entry_counts_what_was_sent()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        using var host = await StartAsync(new() { ["FeedbackLoop:Http:Endpoint"] = collector.Endpoint.ToString() });
        var feedback = host.Services.GetRequiredService<IFeedbackClient>();

        feedback.Copied("s1", "u1", "g1");
        Assert.True(await feedback.FlushAsync(Deadline));

        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["feedbackloop"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(1L, entry.Data["sent"]);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_collector_that_fails_then_recovers_is_degraded_then_healthy_again()
    {
        await using var collector = await CollectorStub.StartAsync(n => n < 2 ? CollectorReply.Unavailable : CollectorReply.Ok);
        using var host = await StartAsync(new()
        {
            ["FeedbackLoop:Http:Endpoint"] = collector.Endpoint.ToString(),
            ["FeedbackLoop:Retry:InitialBackoff"] = "00:00:01",
            ["FeedbackLoop:Retry:MaxBackoff"] = "00:00:01",
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var feedback = host.Services.GetRequiredService<IFeedbackClient>();

        feedback.Copied("s1", "u1", "g1");

        await Eventually.HoldsAsync(() => Status(health) == HealthStatus.Degraded, Deadline, "degraded after a 503");
        Assert.True(await feedback.FlushAsync(Deadline));
        Assert.Equal(HealthStatus.Healthy, Status(health));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_misconfigured_SDK_is_unhealthy_naming_the_option_and_a_switched_off_one_is_healthy()
    {
        var misconfigured = HealthOf(new() { ["FeedbackLoop:AppId"] = "Not Valid", ["FeedbackLoop:Http:Endpoint"] = "https://collector.example.com" });
        Assert.Equal(HealthStatus.Unhealthy, misconfigured.Status);
        Assert.Contains("FeedbackLoop:AppId", misconfigured.Description, StringComparison.Ordinal);

        var off = HealthOf(new() { ["FeedbackLoop:Enabled"] = "false" });
        Assert.Equal(HealthStatus.Healthy, off.Status);
    }

    private static HealthStatus Status(HealthCheckService health) => health.CheckHealthAsync().GetAwaiter().GetResult().Entries["feedbackloop"].Status;

    /// <summary>The entry from a provider that was never started (so a bad option does not stop the test at start).</summary>
    private static HealthReportEntry HealthOf(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddFeedbackLoop(configuration);
        services.AddHealthChecks().AddFeedbackLoopHealthCheck();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<HealthCheckService>().CheckHealthAsync().GetAwaiter().GetResult().Entries["feedbackloop"];
    }

    private static async Task<IHost> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        settings["FeedbackLoop:AppId"] = "shop";
        settings["FeedbackLoop:FlushInterval"] = "00:00:00.050";
        settings.TryAdd("FeedbackLoop:Http:WriteKey", "wk-test");
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddFeedbackLoop();
        builder.Services.AddHealthChecks().AddFeedbackLoopHealthCheck();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>A loopback port that was just free: connecting to it is refused at once.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
