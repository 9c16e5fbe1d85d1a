using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// Issue 16's configuration mistakes: each fails host start with the option's configuration path and what is wrong
/// ("missing" when unset), all problems of one configuration together; an option of a transport not in use is
/// ignored with a warning. In every case the app's own chat client keeps answering.
/// </summary>
public sealed class ConfigurationMistakesTests
{
    private const string Answer = "Budget is approved.";

    public enum Transport { None, Http, Kafka }

    [Theory]
    [InlineData("AppId=", Transport.Http, "FeedbackLoop:AppId: missing")]
    [InlineData("AppId=Not Valid", Transport.Http, "FeedbackLoop:AppId: must be 1")]
    [InlineData("FlushInterval=5", Transport.Http, "FeedbackLoop:FlushInterval: '5' would be read as 5 days")]
    [InlineData("Retry:TimeBudget=30", Transport.Http, "FeedbackLoop:Retry:TimeBudget: '30' would be read as 30 days")]
    [InlineData("Spool:Directory=/tmp", Transport.Http, "FeedbackLoop:Spool:Directory: Spool.Directory '/tmp' is the shared temp folder")]
    [InlineData("Sampling:ByEventType:generation.dwel=0.1", Transport.Http, "FeedbackLoop:Sampling:ByEventType:generation.dwel: unknown event type")]
    [InlineData("Sampling:ByEventType:generation.dwell=2", Transport.Http, "FeedbackLoop:Sampling:ByEventType:generation.dwell: must be between 0 and 1")]
    [InlineData("UserIdSecret=short", Transport.Http, "FeedbackLoop:UserIdSecret: the secret must be at least 16 characters")]
    [InlineData("Http:WriteKey=", Transport.Http, "FeedbackLoop:Http:WriteKey: missing")]
    [InlineData("Http:Endpoint=http://collector.example.com", Transport.Http, "FeedbackLoop:Http:Endpoint: http:// only to a loopback host")]
    [InlineData("AppId=shop", Transport.None, "FeedbackLoop:Http:Endpoint: missing")]
    [InlineData("Kafka:BootstrapServers=", Transport.Kafka, "FeedbackLoop:Kafka:BootstrapServers: missing")]
    [InlineData("Kafka:Topic=", Transport.Kafka, "FeedbackLoop:Kafka:Topic: missing")]
    public async Task A_mistake_fails_start_with_its_path_and_the_chat_client_still_answers(string setting, Transport transport, string expected)
    {
        using var host = Build(With(transport, setting), transport);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(Answer, (await host.Services.GetRequiredService<IChatClient>().GetResponseAsync("Summarize the memo")).Text);
    }

    [Fact]
    public async Task Every_problem_is_reported_at_once()
    {
        using var host = Build(With(Transport.Http, "MaxQueueLength=0", "Retry:MaxBackoff=00:00:00.001", "Spool:Directory=/var/lib/shop/feedbackloop-spool", "Spool:MaxBytes=10", "Http:WriteKey="), Transport.Http);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        foreach (var path in new[] { "FeedbackLoop:MaxQueueLength:", "FeedbackLoop:Retry:MaxBackoff:", "FeedbackLoop:Spool:MaxBytes:", "FeedbackLoop:Http:WriteKey:" })
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_section_passed_itself_is_bound_and_its_own_path_names_the_problems()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Telemetry:Feedback:AppId"] = "" });
        builder.Services.AddFeedbackLoop(builder.Configuration.GetSection("Telemetry:Feedback")).UseTransport(_ => new RecordingTransport());
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Telemetry:Feedback:AppId: missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_common_idiom_GetSection_FeedbackLoop_and_the_host_builder_overload_both_start()
    {
        var settings = With(Transport.Http);
        foreach (var register in new Action<HostApplicationBuilder>[]
                 {
                     b => b.Services.AddFeedbackLoop(b.Configuration.GetSection("FeedbackLoop")),
                     b => b.AddFeedbackLoop(),
                 })
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration.AddInMemoryCollection(settings);
            register(builder);
            using var host = builder.Build();
            await host.StartAsync();
            Assert.Equal("shop", host.Services.GetRequiredService<IOptions<FeedbackLoop.Sdk.DependencyInjection.FeedbackLoopOptions>>().Value.AppId);
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_http_endpoint_next_to_UseKafka_is_ignored_with_a_warning_and_start_succeeds()
    {
        var logs = new CapturedLogs();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(With(Transport.Kafka, "Http:Endpoint=https://collector.example.com"));
        builder.Logging.AddProvider(logs);
        builder.Services.AddFeedbackLoop(builder.Configuration).UseKafka();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("FeedbackLoop:Http:Endpoint is set, but the transport is Kafka", StringComparison.Ordinal));
    }

    private static IHost Build(Dictionary<string, string?> settings, Transport transport)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        var feedback = builder.Services.AddFeedbackLoop(builder.Configuration);
        if (transport == Transport.Kafka) feedback.UseKafka();
        builder.Services.AddChatClient(new StandInModel()).UseFeedbackLoop();
        return builder.Build();
    }

    /// <summary>A configuration that starts for <paramref name="transport"/>, with <paramref name="changes"/> (<c>key=value</c>, an empty value unsets).</summary>
    private static Dictionary<string, string?> With(Transport transport, params string[] changes)
    {
        var settings = new Dictionary<string, string?> { ["FeedbackLoop:AppId"] = "shop" };
        if (transport == Transport.Http)
        {
            settings["FeedbackLoop:Http:Endpoint"] = "https://collector.example.com";
            settings["FeedbackLoop:Http:WriteKey"] = "fl_shop_0123456789abcdef";
        }
        if (transport == Transport.Kafka) settings["FeedbackLoop:Kafka:BootstrapServers"] = "127.0.0.1:1";
        foreach (var change in changes)
        {
            var (key, value) = (change[..change.IndexOf('=', StringComparison.Ordinal)], change[(change.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            settings["FeedbackLoop:" + key] = value;
        }
        return settings;
    }

    private sealed class StandInModel : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, Answer)));

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
