using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// Issue 16, item 4: a broker nobody answers on. librdkafka's complaints reach the app's logger (not stderr), a few a
/// minute, naming the broker; the record is given up on within the retry budget (± 10 %), as the options promise.
/// </summary>
public sealed class KafkaOutageTests
{
    [Fact]
    public async Task An_unreachable_broker_logs_a_few_lines_naming_it_and_delivery_gives_up_within_the_budget()
    {
        var budget = TimeSpan.FromSeconds(8);
        var broker = ClosedLoopbackPort();
        var logs = new ListLogger();
        await using var client = new FeedbackClient(
            new FeedbackClientOptions { AppId = "shop", FlushInterval = TimeSpan.FromMilliseconds(20), Retry = new RetryOptions { TimeBudget = budget } },
            new KafkaFeedbackTransport(broker, logger: logs, deliveryTimeout: KafkaFeedbackTransport.DeliveryTimeoutFor(budget)));

        var clock = Stopwatch.StartNew();
        Assert.True(client.Thumb("s1", "u1", "g1", ThumbValue.Up));
        Assert.True(await Eventually.TrueAsync(() => client.Counters.Failed == 1, budget * 3), "the record was never given up on");
        var took = clock.Elapsed;

        Assert.InRange(took.TotalSeconds, budget.TotalSeconds * 0.9, budget.TotalSeconds * 1.1);
        var lines = logs.Lines.ToArray();
        Assert.NotEmpty(lines);
        Assert.True(lines.Length <= KafkaFeedbackTransport.MaxClientLogLinesPerMinute, $"{lines.Length} lines:\n{string.Join('\n', lines)}");
        Assert.All(lines, line => Assert.Contains(broker, line, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(120, 119.5)]
    [InlineData(5, 4.5)]
    [InlineData(1.2, 1)]
    [InlineData(0, 1)]
    public void The_delivery_timeout_centres_librdkafkas_once_a_second_timeout_scan_on_the_budget(double budgetSeconds, double timeoutSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(timeoutSeconds), KafkaFeedbackTransport.DeliveryTimeoutFor(TimeSpan.FromSeconds(budgetSeconds)));

    /// <summary>A loopback port that refuses connections: bound, read, released.</summary>
    private static string ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
    }
}
