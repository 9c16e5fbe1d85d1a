using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>The write key never leaves the machine over plain HTTP unless the app says so out loud.</summary>
public sealed class HttpEndpointSecurityTests
{
    private const string Key = "wk_test_5f1c0e7a9b";

    [Theory]
    [InlineData("https://collector.example/v1/events", true)]
    [InlineData("https://10.0.0.5/v1/events", true)]
    [InlineData("http://localhost:8080/v1/events", true)]
    [InlineData("http://LOCALHOST/v1/events", true)]
    [InlineData("http://127.0.0.1:5000/v1/events", true)]
    [InlineData("http://127.8.9.10/v1/events", true)]
    [InlineData("http://[::1]:5000/v1/events", true)]
    [InlineData("http://collector.example/v1/events", false)]
    [InlineData("http://10.0.0.5/v1/events", false)]
    [InlineData("http://0.0.0.0/v1/events", false)]
    [InlineData("http://localhost.attacker.example/v1/events", false)]
    [InlineData("http://127.0.0.1.nip.io/v1/events", false)]
    [InlineData("http://[fe80::1]/v1/events", false)]
    public async Task Plain_http_is_accepted_only_to_loopback_unless_allowed(string endpoint, bool accepted)
    {
        var options = new HttpTransportOptions { Endpoint = new Uri(endpoint), WriteKey = Key };

        var error = await CreateAsync(options);

        if (accepted)
        {
            Assert.Null(error);
        }
        else
        {
            var refused = Assert.IsType<ArgumentException>(error);
            Assert.Equal("Endpoint", refused.ParamName);
            Assert.Contains("https://", refused.Message, StringComparison.Ordinal);
            Assert.Contains("AllowInsecureHttp", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(Key, refused.Message, StringComparison.Ordinal);
            Assert.Null(await CreateAsync(options with { AllowInsecureHttp = true }));
        }
    }

    [Fact]
    public async Task Allowing_insecure_http_to_another_machine_logs_a_warning_without_the_key()
    {
        var logger = new RecordingLogger();
        var options = new HttpTransportOptions { Endpoint = new Uri("http://collector.internal/v1/events"), WriteKey = Key, AllowInsecureHttp = true };

        await using var transport = new HttpFeedbackTransport(options, null, logger, TimeProvider.System);

        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("unencrypted", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, warning.Message, StringComparison.Ordinal);
        Assert.Contains("AllowInsecureHttp = True", options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loopback_http_and_https_log_no_warning()
    {
        var logger = new RecordingLogger();

        await using var loopback = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri("http://127.0.0.1:9/v1/events"), WriteKey = Key }, null, logger, TimeProvider.System);
        await using var secure = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri("https://collector.example/v1/events"), WriteKey = Key }, null, logger, TimeProvider.System);

        Assert.Empty(logger.Entries);
    }

    [Theory]
    [InlineData("http://collector.example/v1/events", null, true)]
    [InlineData("http://collector.example/v1/events", "false", true)]
    [InlineData("http://collector.example/v1/events", "true", false)]
    [InlineData("http://localhost:8080/v1/events", null, false)]
    [InlineData("https://collector.example/v1/events", null, false)]
    public async Task Configured_http_to_another_machine_fails_start_naming_the_endpoint_option(string endpoint, string? allow, bool fails)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FeedbackLoop:AppId"] = "shop",
            ["FeedbackLoop:Http:Endpoint"] = endpoint,
            ["FeedbackLoop:Http:WriteKey"] = Key,
            ["FeedbackLoop:Http:AllowInsecureHttp"] = allow,
        });
        builder.Services.AddFeedbackLoop(builder.Configuration);
        using var host = builder.Build();

        var error = await Record.ExceptionAsync(() => host.StartAsync());
        await host.StopAsync();

        if (fails)
        {
            var invalid = Assert.IsType<OptionsValidationException>(error);
            Assert.Contains("FeedbackLoop:Http:Endpoint: http:// only to a loopback host", invalid.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(Key, invalid.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(error);
        }
    }

    /// <summary>Creates (and disposes) a transport; what it threw, if anything.</summary>
    private static async Task<Exception?> CreateAsync(HttpTransportOptions options)
    {
        try
        {
            await using var transport = new HttpFeedbackTransport(options);
            return null;
        }
        catch (ArgumentException e)
        {
            return e;
        }
    }
}
