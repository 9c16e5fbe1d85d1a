using System.Diagnostics.Metrics;

namespace FeedbackLoop.Sdk;

/// <summary>
/// The <c>FeedbackLoop.Sdk</c> meter: observable instruments over <see cref="FeedbackClientCounters"/>, read
/// only when a listener (OpenTelemetry, dotnet-counters) collects, so they cost the hot path nothing.
/// Every measurement carries the <c>app_id</c> tag; drops also carry <c>reason</c>.
/// </summary>
internal sealed class FeedbackClientMetrics : IDisposable
{
    /// <summary>The meter name to subscribe to (for example <c>AddMeter("FeedbackLoop.Sdk")</c> in OpenTelemetry).</summary>
    public const string MeterName = "FeedbackLoop.Sdk";

    private static readonly (DropReason Reason, string Tag)[] Reasons =
    [
        (DropReason.QueueFull, "queue_full"), (DropReason.QueueBytes, "queue_bytes"), (DropReason.Oversized, "oversized"),
        (DropReason.ShutDown, "shut_down"), (DropReason.SenderError, "sender_error"), (DropReason.Invalid, "invalid"), (DropReason.SpoolFull, "spool_full"),
        (DropReason.SpoolCorrupt, "spool_corrupt"), (DropReason.SpoolForged, "spool_forged"),
    ];

    private readonly Meter _meter;

    public FeedbackClientMetrics(FeedbackClientCounters counters, string appId, IMeterFactory? factory)
    {
        var version = typeof(FeedbackClientMetrics).Assembly.GetName().Version?.ToString();
        _meter = factory?.Create(new MeterOptions(MeterName) { Version = version }) ?? new Meter(MeterName, version);
        var app = new KeyValuePair<string, object?>("app_id", appId);

        Counter("feedbackloop.sdk.events.received", "Events handed to the client", () => counters.Received);
        Counter("feedbackloop.sdk.events.sampled_out", "Events left out by session sampling", () => counters.SampledOut);
        Counter("feedbackloop.sdk.events.sent", "Events the destination acknowledged", () => counters.Sent);
        Counter("feedbackloop.sdk.events.spooled", "Events written to the disk spool", () => counters.Spooled);
        Counter("feedbackloop.sdk.events.rejected", "Events the destination refused for good", () => counters.Rejected);
        Counter("feedbackloop.sdk.events.failed", "Events given up on after the retry budget", () => counters.Failed);
        Counter("feedbackloop.sdk.events.retried", "Event sends repeated after a transient fault", () => counters.Retried);
        Counter("feedbackloop.sdk.events.truncated", "generation.shown events whose conversation was shortened to fit the size limit", () => counters.Truncated);
        Counter("feedbackloop.sdk.chat.session_defaulted", "Chat responses reported without a session id, under their generation id", () => counters.SessionDefaulted, "{response}");
        Counter("feedbackloop.sdk.sender.restarts", "Times the background sender failed and was restarted", () => counters.SenderRestarts, "{restart}");
        _meter.CreateObservableCounter("feedbackloop.sdk.events.dropped",
            () => Reasons.Select(r => new Measurement<long>(counters.Dropped(r.Reason), app, new KeyValuePair<string, object?>("reason", r.Tag))),
            "{event}", "Events dropped, by reason");
        _meter.CreateObservableUpDownCounter("feedbackloop.sdk.queue.depth", () => new Measurement<long>(counters.QueueDepth, app), "{event}", "Events waiting in memory");
        _meter.CreateObservableUpDownCounter("feedbackloop.sdk.spool.size", () => new Measurement<long>(counters.SpoolBytes, app), "By", "Bytes in the disk spool");

        void Counter(string name, string description, Func<long> read, string unit = "{event}") =>
            _meter.CreateObservableCounter(name, () => new Measurement<long>(read(), app), unit, description);
    }

    public void Dispose() => _meter.Dispose();
}
