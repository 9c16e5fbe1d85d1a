using FeedbackLoop.Orchestration.Hosting;
using MassTransit;
using MassTransit.UsageTracking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.IntegrationTests;

/// <summary>The one host every role runs on: what its defaults configure, and where every command finds its data and store.</summary>
public sealed class HostDefaultsTests
{
    [Theory]
    [InlineData("serve-all")]
    [InlineData("serve-orchestrator")]
    [InlineData("serve-worker")]
    [InlineData("extract")]
    [InlineData("demo")]
    public void Every_role_host_turns_MassTransit_usage_telemetry_off(string role)
    {
        // MASSTRANSIT_USAGE_TELEMETRY overrides the option (an operator's opt-in); a test run must not carry it.
        Assert.Null(Environment.GetEnvironmentVariable("MASSTRANSIT_USAGE_TELEMETRY"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.AddFeedbackLoopDefaults(role);
        builder.Services.AddMassTransit(bus => bus.UsingInMemory());
        using var host = builder.Build();

        Assert.False(host.Services.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
        // The tracker MassTransit consults before it schedules its report (five minutes after the bus starts).
        Assert.False(Assert.IsType<UsageTracker>(host.Services.GetRequiredService<IUsageTracker>()).Enabled);
    }

    [Fact]
    public void The_host_stops_within_ten_seconds_and_waits_for_the_bus()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.AddFeedbackLoopDefaults("serve-all");
        builder.Services.AddMassTransit(bus => bus.UsingInMemory());
        using var host = builder.Build();

        Assert.True(host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout < TimeSpan.FromSeconds(10));
        Assert.True(host.Services.GetRequiredService<IOptions<MassTransitHostOptions>>().Value.WaitUntilStarted);
    }

    public static TheoryData<string?, string?, string?, string?, string?, string?, string, string> Locations => new()
    {
        // option data, option store, FEEDBACKLOOP_DATA, FEEDBACKLOOP_STORE, file data, file store → data, store
        { null, null, null, null, null, null, "/work/feedbackloop-data", "/home/op/.local/state/feedbackloop/registry.db" },
        { null, null, null, null, "/cfg/data", "/cfg/registry.db", "/cfg/data", "/cfg/registry.db" },
        { null, null, "/env/data", "/env/registry.db", "/cfg/data", "/cfg/registry.db", "/env/data", "/env/registry.db" },
        { "/opt/data", "/opt/registry.db", "/env/data", "/env/registry.db", "/cfg/data", "/cfg/registry.db", "/opt/data", "/opt/registry.db" },
        { "/opt/data", null, null, "/env/registry.db", null, null, "/opt/data", "/env/registry.db" },
        // The default store never follows the data folder: it stays on the local disk.
        { "/shared/feedbackloop", null, null, null, null, null, "/shared/feedbackloop", "/home/op/.local/state/feedbackloop/registry.db" },
    };

    [Theory]
    [MemberData(nameof(Locations))]
    public void Data_and_store_come_from_the_option_then_the_environment_then_the_file_then_the_defaults(
        string? dataOption, string? storeOption, string? dataVariable, string? storeVariable, string? dataFile, string? storeFile,
        string expectedData, string expectedStore)
    {
        var environment = new Dictionary<string, string?>
        {
            [LoopLocations.DataVariable] = dataVariable,
            [LoopLocations.StoreVariable] = storeVariable,
            ["HOME"] = "/home/op",
        };
        var file = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [LoopLocations.DataKey] = dataFile,
            [LoopLocations.StoreKey] = storeFile,
        }).Build();

        var resolved = LoopLocations.Resolve(dataOption, storeOption, file, name => environment.GetValueOrDefault(name));

        var expectedDataPath = expectedData.StartsWith("/work/", StringComparison.Ordinal)
            ? Path.GetFullPath(LoopLocations.DefaultData)
            : expectedData;
        Assert.Equal((expectedDataPath, expectedStore), (resolved.Data, resolved.Store));
    }

    [Fact]
    public void The_default_store_follows_XDG_STATE_HOME_when_it_is_set()
    {
        var environment = new Dictionary<string, string?> { ["XDG_STATE_HOME"] = "/var/state", ["HOME"] = "/home/op" };

        Assert.Equal("/var/state/feedbackloop/registry.db", LoopLocations.DefaultStore(name => environment.GetValueOrDefault(name)));
    }
}
