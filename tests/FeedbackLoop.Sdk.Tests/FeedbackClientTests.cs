using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The client's promises to the host app: calls never block or throw, memory is bounded, drops are
/// counted, flush and dispose deliver what is queued. The transports here stand in for a broker or
/// network that is slow, down or healthy; the client itself is the real one.
/// </summary>
public sealed class FeedbackClientTests
{
    private static readonly IReadOnlyList<ConversationTurn> Prompt = [new ConversationTurn("user", "Hi")];

    [Fact]
    public async Task Shown_returns_a_new_generation_id_and_every_event_reaches_the_transport_as_contract_json()
    {
        var transport = new RecordingTransport();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app" }, transport))
        {
            var generation = client.Shown("s1", "u1", "m1", Prompt, "Hello!");
            Assert.True(Guid.TryParse(generation, out _));
            Assert.True(client.Thumb("s1", "u1", generation, ThumbValue.Up));
            Assert.True(client.SessionEnded("s1", "u1"));
            Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(3, client.Counters.Sent);
        }

        var parsed = transport.Events.Select(e => Assert.IsType<FeedbackEvent>(Parse(e.Json.Span))).ToList();
        Assert.Equal([EventTypes.GenerationShown, EventTypes.FeedbackThumb, EventTypes.SessionEnded], parsed.Select(e => e.Type));
        Assert.All(parsed, e => Assert.Equal("app", e.AppId));
        Assert.Equal(3, parsed.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task A_hanging_transport_never_blocks_the_caller_and_the_overflow_is_dropped_and_counted()
    {
        var transport = new HangingTransport();
        var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", MaxQueueLength = 100, MaxBatchSize = 10, ShutdownTimeout = TimeSpan.FromMilliseconds(200) }, transport);
        var accepted = 0;
        for (var i = 0; i < 1_000; i++)
        {
            if (client.Copied("s1", "u1", "g" + i)) accepted++;
        }

        // 100 queued + at most one batch of 10 taken by the stuck sender; everything else dropped and counted.
        Assert.InRange(accepted, 100, 110);
        Assert.Equal(1_000 - accepted, client.Counters.DroppedQueueFull);
        Assert.False(await client.FlushAsync(TimeSpan.FromMilliseconds(100)));
        await client.DisposeAsync();
        Assert.True(transport.Disposed);
    }

    [Fact]
    public async Task A_failing_transport_never_throws_into_the_host_and_failures_are_counted()
    {
        var transport = new FailingTransport();
        var retry = new RetryOptions { InitialBackoff = TimeSpan.FromMilliseconds(5), MaxBackoff = TimeSpan.FromMilliseconds(20), TimeBudget = TimeSpan.FromMilliseconds(100) };
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Retry = retry }, transport);

        for (var i = 0; i < 20; i++) Assert.True(client.Accepted("s1", "u1", "g" + i));

        Assert.False(await client.FlushAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(20, client.Counters.Failed);
        Assert.True(client.Counters.Retried >= 20, "the batch was retried before it was given up on");
        Assert.Equal(0, client.Counters.Sent);
        // The sender keeps going after a failure: later events are still attempted.
        Assert.True(client.Rejected("s1", "u1", "g-late"));
        Assert.False(await client.FlushAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(21, client.Counters.Failed);
    }

    [Fact]
    public async Task Dispose_delivers_what_is_queued()
    {
        var transport = new RecordingTransport(delay: TimeSpan.FromMilliseconds(5));
        var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", MaxBatchSize = 7 }, transport);
        for (var i = 0; i < 100; i++) client.Dwell("s1", "u1", "g" + i, i);

        await client.DisposeAsync();

        Assert.Equal(100, transport.Events.Count);
        Assert.Equal(100, client.Counters.Sent);
        Assert.False(client.Copied("s1", "u1", "after-dispose"));
    }

    [Fact]
    public async Task An_event_over_32_KiB_is_dropped_and_counted_not_sent()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app" }, transport);

        client.Edited("s1", "u1", "g1", new string('x', 40_000));
        client.Copied("s1", "u1", "g1");

        Assert.False(await client.FlushAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, client.Counters.DroppedOversized);
        Assert.Equal(EventTypes.GenerationCopied, Parse(Assert.Single(transport.Events).Json.Span)!.Type);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("has space")]
    public void A_bad_app_id_fails_at_construction_naming_the_option(string appId)
    {
        var error = Assert.Throws<ArgumentException>(() => new FeedbackClient(new FeedbackClientOptions { AppId = appId }, new RecordingTransport()));
        Assert.Equal("AppId", error.ParamName);
    }

    private static FeedbackEvent? Parse(ReadOnlySpan<byte> json) => EventJson.TryParse(json, out var evt, out _) ? evt : null;
}
