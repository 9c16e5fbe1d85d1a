using System.Diagnostics;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The app's current span travels with each event it reports, beside the JSON, so a transport can put it on
/// the record (Kafka's traceparent header) and the extractor can continue the trace; capturing it costs the
/// calling thread nothing.
/// </summary>
public sealed class TraceContextTests
{
    [Fact]
    public async Task A_call_inside_a_span_hands_its_context_to_the_transport_and_a_call_outside_hands_none()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app" }, transport);

        ActivityContext expected;
        using (var request = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start())
        {
            request.ActivityTraceFlags = ActivityTraceFlags.Recorded;
            expected = request.Context;
            Assert.True(client.Thumb("s1", "u1", "g1", ThumbValue.Up));
            Assert.True(client.Track(new FeedbackEvent("e-own", "app", "s1", "u1", DateTimeOffset.UtcNow, new GenerationCopied("g1"))));
        }
        Assert.Null(Activity.Current);
        Assert.True(client.Copied("s1", "u1", "g1"));
        Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(3, transport.Events.Count);
        foreach (var traced in transport.Events.Take(2))
        {
            Assert.True(traced.HasTraceContext);
            Assert.Equal(expected.TraceId, traced.TraceContext.TraceId);
            Assert.Equal(expected.SpanId, traced.TraceContext.SpanId);
            Assert.Equal(ActivityTraceFlags.Recorded, traced.TraceContext.TraceFlags);
        }
        Assert.False(transport.Events[2].HasTraceContext);
        Assert.Equal(default, transport.Events[2].TraceContext);
    }

    [Fact]
    public async Task A_span_of_the_old_hierarchical_format_has_no_w3c_ids_and_is_not_passed_on()
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app" }, transport);

        using (new Activity("legacy").SetIdFormat(ActivityIdFormat.Hierarchical).Start())
        {
            Assert.True(client.Copied("s1", "u1", "g1"));
        }
        Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));

        Assert.False(Assert.Single(transport.Events).HasTraceContext);
    }

    [Fact]
    public async Task Capturing_the_span_allocates_nothing_on_the_calling_thread()
    {
        // A batch far larger than the calls, so no call wakes the sender (a wake-up is not what is measured).
        await using var client = new FeedbackClient(
            new FeedbackClientOptions { AppId = "app", MaxQueueLength = 4_096, MaxBatchSize = 1 << 20, FlushInterval = TimeSpan.FromHours(1) },
            new RecordingTransport());
        using (new Activity("warm-up").Start())
        {
            for (var i = 0; i < 200; i++) client.Thumb("s1", "u1", "g1", ThumbValue.Up);
        }

        // A span the SDK has never seen: whatever it has to read from it must already exist.
        using var request = new Activity("request").Start();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++) client.Thumb("s1", "u1", "g1", ThumbValue.Up);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }
}
