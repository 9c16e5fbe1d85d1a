using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Tests.Transports;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The promises of issue 4 that are about the client itself: bounded by count and bytes with exact drop
/// counts, never blocking, a sender that survives failures, and honest flush/shutdown results.
/// </summary>
public sealed class ClientGuaranteesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Calls_against_a_hanging_transport_all_return_and_every_event_is_accounted_for()
    {
        var transport = new HangingTransport();
        var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", MaxQueueLength = 50, MaxBatchSize = 5, Retry = null }, transport);

        // The whole burst runs on another thread under a deadline: a blocking call would fail the test, not hang it.
        var queued = await Task.Run(() =>
        {
            var n = 0;
            for (var i = 0; i < 5_000; i++)
            {
                if (client.Thumb("s" + (i % 7), "u1", "g" + i, ThumbValue.Down)) n++;
            }
            return n;
        }).WaitAsync(Deadline);

        Assert.Equal(5_000, client.Counters.Received);
        Assert.Equal(5_000 - queued, client.Counters.Dropped(DropReason.QueueFull));
        Assert.Equal(queued, client.Counters.Queued);
        Assert.InRange(queued, 50, 55); // the ring, plus at most the one batch the stuck sender holds

        Assert.False(await client.ShutdownAsync(TimeSpan.FromMilliseconds(200)));
        Assert.True(transport.Disposed);
        // What never left is counted as lost at shutdown: the books balance.
        Assert.Equal(queued, client.Counters.Dropped(DropReason.ShutDown) + client.Counters.Sent);
    }

    [Fact]
    public async Task The_byte_bound_drops_exactly_the_events_that_do_not_fit()
    {
        var transport = new HangingTransport();
        await using var client = new FeedbackClient(
            new FeedbackClientOptions
            {
                AppId = "app", MaxQueueBytes = 100_000, MaxBatchSize = 1_000, FlushInterval = TimeSpan.FromHours(1), Retry = null,
                ShutdownTimeout = TimeSpan.FromMilliseconds(100),
            }, transport);
        var text = new string('x', 10_000); // 20,108 bytes in memory each by the client's estimate

        var results = Enumerable.Range(0, 20).Select(i => client.Edited("s1", "u1", "g" + i, text)).ToList();

        Assert.Equal([true, true, true, true], results.Take(4)); // 4 × 20,108 fit in 100,000; the fifth does not
        Assert.All(results.Skip(4), Assert.False);
        Assert.Equal(16, client.Counters.Dropped(DropReason.QueueBytes));
        Assert.Equal(0, client.Counters.Dropped(DropReason.QueueFull));
        Assert.Equal(20, client.Counters.Received);
        Assert.Equal(4, client.Counters.Queued);
        // A small event still fits: the budget is bytes, not a count.
        Assert.True(client.Copied("s1", "u1", "g-small"));
    }

    [Fact]
    public async Task The_byte_budget_is_given_back_when_events_are_sent()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", MaxQueueBytes = 100_000 }, transport);
        var text = new string('y', 10_000);

        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 4; i++) Assert.True(client.Edited("s1", "u1", $"g{round}-{i}", text));
            Assert.True(await client.FlushAsync(Deadline));
        }

        Assert.Equal(20, transport.Events.Count);
        Assert.Equal(0, client.Counters.DroppedTotal());
    }

    [Fact]
    public async Task The_sender_restarts_after_an_unexpected_failure_and_keeps_delivering()
    {
        // A logging provider that throws is the kind of fault that escapes the sender's own handling.
        var logger = new ThrowingOnceLogger();
        var transport = new FailingTransport(failures: 1);
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Retry = null }, transport, logger);

        Assert.True(client.Copied("s1", "u1", "g-first"));
        await Eventually.HoldsAsync(() => client.Counters.SenderRestarts == 1, Deadline);

        Assert.True(client.Copied("s1", "u1", "g-second"));
        Assert.True(await client.FlushAsync(Deadline));
        Assert.Equal(EventTypes.GenerationCopied, Assert.Single(transport.Delivered) is { } e ? ParseType(e) : null);
        Assert.Equal(1, client.Counters.Failed);
        Assert.Equal(1, client.Counters.Sent);
    }

    [Fact]
    public async Task A_throwing_custom_redactor_costs_its_event_not_the_sender()
    {
        var transport = new RecordingTransport();
        var broken = Redactor.FromFunc("broken", text => text.Contains("boom", StringComparison.Ordinal) ? throw new FormatException("bad") : text);
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Redactors = [broken] }, transport);

        client.Edited("s1", "u1", "g1", "boom");
        client.Edited("s1", "u1", "g2", "fine");

        Assert.False(await client.FlushAsync(Deadline));
        Assert.Equal(1, client.Counters.Dropped(DropReason.SenderError));
        Assert.Equal("g2", Assert.IsType<GenerationEdited>(Assert.Single(transport.Parsed()).Data).GenerationId);
        Assert.Equal(0, client.Counters.SenderRestarts);
    }

    [Fact]
    public async Task An_event_that_breaks_the_contract_is_dropped_as_invalid_and_logged_with_its_field()
    {
        var transport = new RecordingTransport();
        var logger = new RecordingLogger();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app" }, transport, new TypedLogger(logger));

        client.Rating("s1", "u1", "g1", 9);
        client.Copied("", "u1", "g1");
        client.Rating("s1", "u1", "g1", 4);

        Assert.False(await client.FlushAsync(Deadline));
        Assert.Equal(2, client.Counters.Dropped(DropReason.Invalid));
        Assert.Equal(4, Assert.IsType<RatingGiven>(Assert.Single(transport.Parsed()).Data).Score);
        Assert.Contains(logger.Entries, e => e.Message.Contains("data.score", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Message.Contains("session_id", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shutdown_delivers_what_is_queued_returns_true_and_later_calls_are_counted_as_shut_down()
    {
        var transport = new RecordingTransport(delay: TimeSpan.FromMilliseconds(2));
        var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", MaxBatchSize = 16 }, transport);
        for (var i = 0; i < 300; i++) client.Dwell("s1", "u1", "g" + i, i);

        Assert.True(await client.ShutdownAsync(Deadline));

        Assert.Equal(300, transport.Events.Count);
        Assert.Equal(300, transport.Events.Select(e => e.EventId).Distinct().Count());
        Assert.False(client.Accepted("s1", "u1", "late"));
        Assert.Equal(1, client.Counters.Dropped(DropReason.ShutDown));
        Assert.False(await client.ShutdownAsync(Deadline)); // the second call has nothing to do
        await client.DisposeAsync(); // and dispose after shutdown is harmless
    }

    [Fact]
    public async Task Flush_sends_a_partial_batch_at_once_instead_of_waiting_for_the_interval()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", FlushInterval = TimeSpan.FromHours(1) }, transport);

        client.Copied("s1", "u1", "g1");

        Assert.True(await client.FlushAsync(Deadline));
        Assert.Single(transport.Events);
    }

    [Fact]
    public async Task Events_are_sent_within_the_flush_interval_without_a_flush()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", FlushInterval = TimeSpan.FromMilliseconds(50) }, transport);

        client.Copied("s1", "u1", "g1");

        await Eventually.HoldsAsync(() => transport.Events.Count == 1, Deadline);
    }

    [Fact]
    public async Task Event_ids_are_uuid_v7_of_the_call_time_and_the_clock_stamps_occurred_at()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 8, 30, 0, TimeSpan.Zero));
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", TimeProvider = clock }, transport);

        client.Copied("s1", "u1", "g1");
        Assert.True(await client.FlushAsync(Deadline));

        var evt = Assert.Single(transport.Parsed());
        Assert.Equal(clock.GetUtcNow(), evt.OccurredAt);
        var id = Guid.Parse(evt.EventId);
        Assert.Equal(7, id.Version);
    }

    private sealed class TypedLogger(RecordingLogger inner) : ILogger<FeedbackClient>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }

    private static string? ParseType(SerializedEvent e) => EventJson.TryParse(e.Json.Span, out var evt, out _) ? evt!.Type : null;

    /// <summary>Throws from the first warning it is asked to write, like a logging provider that broke.</summary>
    private sealed class ThrowingOnceLogger : ILogger<FeedbackClient>
    {
        private int _thrown;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning && Interlocked.Exchange(ref _thrown, 1) == 0) throw new InvalidOperationException("log sink is down");
        }
    }
}
