using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>
/// The retry policy over the real HTTP transport and a real loopback collector: what the collector sees
/// when it is down, busy, refusing, or half-way through a batch.
/// </summary>
public sealed class RetryOverHttpTests
{
    private const string Key = "wk_test_0d9e8c7b6a";

    private static readonly RetryOptions Fast = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(20),
        TimeBudget = TimeSpan.FromSeconds(5),
    };

    private readonly FeedbackClientCounters _counters = new();
    private readonly RecordingLogger _logger = new();

    [Fact]
    public async Task A_503_then_200_delivers_every_event_once_and_counts_the_resent_events_as_retried()
    {
        await using var collector = await CollectorStub.StartAsync(n => n == 0 ? CollectorReply.Unavailable : CollectorReply.Ok);
        await using var transport = Retrying(collector, Fast, TimeProvider.System);
        var batch = TestEvents.Batch(5);

        var result = await transport.SendAsync(batch, CancellationToken.None);

        Assert.Equal(new SendResult(5), result);
        Assert.Equal(2, collector.Requests.Count);
        Assert.Equal(batch.Select(e => e.EventId), collector.Requests[1].Events().Select(e => e.EventId));
        Assert.Equal(5, _counters.Retried);
        Assert.Equal(1, _logger.Count(LogLevel.Debug));
        Assert.Equal(0, _logger.Count(LogLevel.Warning));
    }

    [Fact]
    public async Task After_429_with_Retry_After_1_the_next_request_comes_no_sooner_than_1_second_later()
    {
        // The retry waits on a fake clock, which the collector also stamps arrivals with; the test moves
        // it in 20 ms steps, so a wait shorter than the second asked for would show up as a shorter gap.
        var clock = new FakeTimeProvider();
        await using var collector = await CollectorStub.StartAsync(n => n == 0 ? new CollectorReply(429, RetryAfter: "1") : CollectorReply.Ok, clock);
        await using var transport = Retrying(collector, Fast, clock);

        var send = transport.SendAsync(TestEvents.Batch(3), CancellationToken.None);
        await clock.WhileAdvancingAsync(send, TimeSpan.FromMilliseconds(20));

        Assert.Equal(new SendResult(3), await send);
        Assert.Equal(2, collector.Requests.Count);
        Assert.True(collector.Requests[1].ArrivedAt - collector.Requests[0].ArrivedAt >= TimeSpan.FromSeconds(1),
            $"the retry came {collector.Requests[1].ArrivedAt - collector.Requests[0].ArrivedAt} after the 429");
    }

    [Theory]
    [InlineData(400)]
    [InlineData(413)]
    [InlineData(501)]
    public async Task A_refusal_is_sent_once_and_returned_as_rejected(int status)
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(status));
        await using var transport = Retrying(collector, Fast, TimeProvider.System);

        var result = await transport.SendAsync(TestEvents.Batch(4), CancellationToken.None);

        Assert.Equal(new SendResult(0, Rejected: 4), result);
        Assert.Single(collector.Requests);
        Assert.Equal(0, _counters.Retried);
    }

    [Fact]
    public async Task A_collector_that_stays_down_is_tried_until_the_budget_is_spent_and_then_never_again()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Unavailable);
        // A second of real time: long enough that a slow first request on a busy machine leaves room for retries.
        var shortBudget = Fast with { TimeBudget = TimeSpan.FromSeconds(1) };
        await using var transport = Retrying(collector, shortBudget, TimeProvider.System);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(TestEvents.Batch(2), CancellationToken.None));

        Assert.True(fault.Retryable);
        Assert.Equal(503, fault.StatusCode);
        Assert.Null(fault.Undelivered);
        // Each retry logs once and counts its two events as resent. The last try can be cut off by the budget
        // before its request reaches the collector, so the collector saw every try, or every try but that one.
        var retries = _logger.Count(LogLevel.Debug);
        Assert.True(retries > 0, "no retry within a second");
        Assert.Equal(2 * retries, _counters.Retried);
        Assert.InRange(collector.Requests.Count, retries, retries + 1);
        Assert.Equal(1, _logger.Count(LogLevel.Warning));
        Assert.All(_logger.Entries, e => Assert.DoesNotContain(Key, e.Message, StringComparison.Ordinal));
        // "Never again": the retries run inside the call and nothing of them outlives it, so once it has thrown the
        // count above is final; the counters pin it to the logged tries rather than a timed watch.
    }

    [Fact]
    public async Task When_the_second_request_of_a_batch_fails_only_its_events_are_sent_again()
    {
        await using var collector = await CollectorStub.StartAsync(n => n == 1 ? CollectorReply.Unavailable : CollectorReply.Ok);
        await using var transport = Retrying(collector, Fast, TimeProvider.System);
        var batch = TestEvents.Batch(30, editedChars: 20_000);

        var result = await transport.SendAsync(batch, CancellationToken.None);

        Assert.Equal(new SendResult(30), result);
        Assert.Equal(3, collector.Requests.Count);
        var first = collector.Requests[0].Events().Select(e => e.EventId).ToList();
        var failed = collector.Requests[1].Events().Select(e => e.EventId).ToList();
        Assert.Equal(batch.Select(e => e.EventId), first.Concat(failed));
        Assert.Equal(failed, collector.Requests[2].Events().Select(e => e.EventId));
        Assert.Equal(failed.Count, _counters.Retried);
    }

    [Fact]
    public async Task On_giving_up_after_a_partial_delivery_the_fault_names_the_undelivered_positions_of_the_original_batch()
    {
        await using var collector = await CollectorStub.StartAsync(n => n == 0 ? CollectorReply.Ok : CollectorReply.Unavailable);
        await using var transport = Retrying(collector, Fast with { TimeBudget = TimeSpan.FromSeconds(1) }, TimeProvider.System);
        var batch = TestEvents.Batch(30, editedChars: 20_000);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(batch, CancellationToken.None));

        // At least one retry of the remainder, so the positions went through the retry's own mapping.
        Assert.True(collector.Requests.Count > 2, $"only {collector.Requests.Count} requests");
        Assert.All(collector.Requests.Skip(2), r => Assert.Equal(collector.Requests[1].Events().Select(e => e.EventId), r.Events().Select(e => e.EventId)));
        var firstCount = collector.Requests[0].Events().Count;
        Assert.Equal(Enumerable.Range(firstCount, 30 - firstCount), fault.Undelivered);
    }

    [Fact]
    public async Task The_callers_cancellation_ends_a_long_wait_for_Retry_After_at_once()
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(503, RetryAfter: "3600"));
        await using var transport = Retrying(collector, Fast with { TimeBudget = TimeSpan.FromHours(2) }, TimeProvider.System);
        using var cancel = new CancellationTokenSource();

        var send = transport.SendAsync(TestEvents.Batch(2), cancel.Token);
        await Eventually.HoldsAsync(() => _logger.Count(LogLevel.Debug) == 1);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Single(collector.Requests);
        Assert.Equal(0, _counters.Retried);
    }

    private RetryingTransport Retrying(CollectorStub collector, RetryOptions options, TimeProvider clock) =>
        new(new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = collector.Endpoint, WriteKey = Key }, null, _logger, TimeProvider.System),
            options, _counters, clock, _logger);
}
