using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>
/// The retry policy's bookkeeping over transports that fail in ways HTTP cannot show: refusals by
/// exception, partial failures in a row, foreign exceptions, malformed position lists. The scripted
/// transport stands in for an app's own <see cref="IFeedbackTransport"/>.
/// </summary>
public sealed class RetryingTransportTests
{
    private static readonly RetryOptions Fast = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(1),
        TimeBudget = TimeSpan.FromSeconds(5),
    };

    private readonly FeedbackClientCounters _counters = new();
    private readonly RecordingLogger _logger = new();

    [Fact]
    public async Task A_non_retryable_fault_returns_its_undelivered_events_as_rejected_and_the_rest_as_delivered()
    {
        var inner = new ScriptedTransport(_ => throw new FeedbackTransportException("refused", retryable: false, statusCode: 422, undelivered: [1, 3]));
        await using var transport = Retrying(inner, Fast, TimeProvider.System);

        var result = await transport.SendAsync(TestEvents.Batch(5), CancellationToken.None);

        Assert.Equal(new SendResult(3, Rejected: 2), result);
        Assert.Single(inner.Calls);
        Assert.Equal(0, _counters.Retried);
        Assert.Equal(1, _logger.Count(LogLevel.Warning));
    }

    [Fact]
    public async Task Successive_partial_failures_resend_only_the_remainder_and_the_final_fault_names_original_positions()
    {
        // Each try takes 40 s of a 60 s budget: the second failure ends the retries.
        var clock = new FakeTimeProvider();
        var inner = new ScriptedTransport(call =>
        {
            clock.Advance(TimeSpan.FromSeconds(40));
            throw new FeedbackTransportException("partial", retryable: true, undelivered: call == 0 ? [2, 4, 5] : [1]);
        });
        await using var transport = Retrying(inner, Fast with { TimeBudget = TimeSpan.FromSeconds(60) }, clock);
        var batch = TestEvents.Batch(6);

        var send = transport.SendAsync(batch, CancellationToken.None);
        await clock.WhileAdvancingAsync(send, TimeSpan.FromMilliseconds(1));

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => send);
        Assert.Equal([4], fault.Undelivered);
        Assert.Equal(2, inner.Calls.Count);
        Assert.Equal(new[] { 2, 4, 5 }.Select(p => batch[p].EventId), inner.Calls[1].Select(e => e.EventId));
        Assert.Equal(3, _counters.Retried);
        Assert.Equal(1, _logger.Count(LogLevel.Warning));
        Assert.IsType<FeedbackTransportException>(fault.InnerException);
    }

    [Fact]
    public async Task Any_other_exception_is_retried_for_the_whole_batch()
    {
        var inner = new ScriptedTransport(call => call == 0 ? throw new IOException("broker unreachable") : SendResult.AllDelivered(4));
        await using var transport = Retrying(inner, Fast, TimeProvider.System);

        var result = await transport.SendAsync(TestEvents.Batch(4), CancellationToken.None);

        Assert.Equal(new SendResult(4), result);
        Assert.Equal(2, inner.Calls.Count);
        Assert.Equal(inner.Calls[0], inner.Calls[1]);
        Assert.Equal(4, _counters.Retried);
    }

    [Theory]
    [InlineData(new[] { 0, 7 })]
    [InlineData(new[] { 1, 1 })]
    [InlineData(new[] { -1 })]
    public async Task A_position_list_that_does_not_fit_the_batch_resends_the_whole_batch(int[] undelivered)
    {
        var inner = new ScriptedTransport(call => call == 0 ? throw new FeedbackTransportException("odd", retryable: true, undelivered: undelivered) : SendResult.AllDelivered(4));
        await using var transport = Retrying(inner, Fast, TimeProvider.System);

        var result = await transport.SendAsync(TestEvents.Batch(4), CancellationToken.None);

        Assert.Equal(new SendResult(4), result);
        Assert.Equal(inner.Calls[0], inner.Calls[1]);
    }

    [Fact]
    public async Task A_fault_that_lists_nothing_undelivered_counts_the_batch_as_delivered_without_a_retry()
    {
        var inner = new ScriptedTransport(_ => throw new FeedbackTransportException("late ack", retryable: true, undelivered: []));
        await using var transport = Retrying(inner, Fast, TimeProvider.System);

        var result = await transport.SendAsync(TestEvents.Batch(3), CancellationToken.None);

        Assert.Equal(new SendResult(3), result);
        Assert.Single(inner.Calls);
    }

    [Fact]
    public async Task A_zero_budget_gives_up_at_the_first_transient_fault()
    {
        var inner = new ScriptedTransport(_ => throw new FeedbackTransportException("down", retryable: true, retryAfter: TimeSpan.FromSeconds(5), statusCode: 503));
        await using var transport = Retrying(inner, Fast with { TimeBudget = TimeSpan.Zero }, TimeProvider.System);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(TestEvents.Batch(3), CancellationToken.None));

        Assert.Single(inner.Calls);
        Assert.True(fault.Retryable);
        Assert.Equal(503, fault.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), fault.RetryAfter);
        Assert.Null(fault.Undelivered);
        Assert.Equal(0, _counters.Retried);
        Assert.Equal(1, _logger.Count(LogLevel.Warning));
    }

    [Fact]
    public async Task A_retry_begun_just_before_the_budget_ends_is_cut_off_where_the_budget_ends()
    {
        // Like librdkafka's delivery timeout: every try takes 7.6 s of an 8 s budget unless it is cancelled first.
        var clock = new FakeTimeProvider();
        var inner = new HangingTransport(clock, TimeSpan.FromSeconds(7.6));
        await using var transport = Retrying(inner, Fast with { TimeBudget = TimeSpan.FromSeconds(8) }, clock);
        var started = clock.GetUtcNow();

        var send = transport.SendAsync(TestEvents.Batch(2), CancellationToken.None);
        // The clock stops at the range's end: the send must have been cut off by then.
        await clock.WhileAdvancingAsync(send, TimeSpan.FromMilliseconds(100), atMost: TimeSpan.FromMilliseconds(8_100));

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => send);
        Assert.Equal(2, inner.Tries);
        // The cut-off retry is not an answer of its own: the fault reports the last one the transport gave.
        Assert.Equal("Local: Message timed out", fault.InnerException?.Message);
        Assert.InRange(clock.GetUtcNow() - started, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8.1));
    }

    [Fact]
    public async Task A_first_try_longer_than_the_budget_is_cut_off_where_the_budget_ends()
    {
        var clock = new FakeTimeProvider();
        var inner = new HangingTransport(clock, TimeSpan.FromSeconds(30));
        await using var transport = Retrying(inner, Fast with { TimeBudget = TimeSpan.FromSeconds(8) }, clock);
        var started = clock.GetUtcNow();

        var send = transport.SendAsync(TestEvents.Batch(2), CancellationToken.None);
        // The clock stops at the range's end: the send must have been cut off by then.
        await clock.WhileAdvancingAsync(send, TimeSpan.FromMilliseconds(100), atMost: TimeSpan.FromMilliseconds(8_100));

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => send);
        Assert.Equal(1, inner.Tries);
        Assert.IsType<TimeoutException>(fault.InnerException);
        Assert.InRange(clock.GetUtcNow() - started, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8.1));
    }

    [Fact]
    public async Task Disposing_it_disposes_the_transport_it_wraps()
    {
        var inner = new ScriptedTransport(_ => SendResult.AllDelivered(0));
        var transport = Retrying(inner, Fast, TimeProvider.System);

        await transport.DisposeAsync();

        Assert.True(inner.Disposed);
    }

    private RetryingTransport Retrying(IFeedbackTransport inner, RetryOptions options, TimeProvider clock) => new(inner, options, _counters, clock, _logger);

    /// <summary>Each try fails after <paramref name="timeout"/> on the clock, or when it is cancelled, whichever is first.</summary>
    private sealed class HangingTransport(TimeProvider clock, TimeSpan timeout) : IFeedbackTransport
    {
        public int Tries { get; private set; }

        public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
        {
            Tries++;
            await Task.Delay(timeout, clock, cancellationToken);
            throw new FeedbackTransportException("Local: Message timed out", retryable: true);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Answers the n-th call (from 0) as the script says, recording what each call was given.</summary>
    private sealed class ScriptedTransport(Func<int, SendResult> script) : IFeedbackTransport
    {
        public List<IReadOnlyList<SerializedEvent>> Calls { get; } = [];

        public bool Disposed { get; private set; }

        public Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
        {
            Calls.Add([.. batch]);
            return Task.FromResult(script(Calls.Count - 1));
        }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
