using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;

namespace FeedbackLoop.Benchmarks;

/// <summary>
/// The cost on the app's thread of reporting one event: <see cref="FeedbackClient"/> against OpenTelemetry's
/// <c>ILogger</c> → batch log processor path with the same fields. Both queues are sized to hold a whole
/// iteration and are flushed after every iteration, so every measured call takes the accept path of a
/// non-full queue.
/// <para>
/// BenchmarkDotNet counts the allocations of every thread, so the "caller" rows park both background
/// exporters during the iteration (their batch trigger and timer are set beyond it): those rows are the
/// app thread's own time and bytes. The "sender live" rows use the defaults, where the background side
/// drains concurrently; their time includes that contention and their bytes include the background
/// side's serialization (which happens off the app's thread by design).
/// </para>
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Operations)]
public partial class SdkTrackBenchmarks
{
    public const int Operations = 65_536;
    private const int QueueLength = 2 * Operations;

    private static readonly IReadOnlyList<ConversationTurn> Input = [new ConversationTurn("user", "How do I reset my password?")];

    private FeedbackClient _client = null!;
    private DiscardingTransport _transport = null!;
    private Activity _request = null!;
    private long _tracedBefore;
    private long _sentBefore;
    private FeedbackClient _liveClient = null!;
    private ILoggerFactory _otelFactory = null!;
    private ILogger _otelLogger = null!;
    private BatchLogRecordExportProcessor _otelProcessor = null!;
    private ILoggerFactory _otelLiveFactory = null!;
    private ILogger _otelLiveLogger = null!;
    private BatchLogRecordExportProcessor _otelLiveProcessor = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Parked: the sender wakes only on flush (batch trigger and interval far beyond one iteration).
        _transport = new DiscardingTransport();
        _client = new FeedbackClient(
            new FeedbackClientOptions { AppId = "bench", MaxQueueLength = QueueLength, MaxQueueBytes = 1L << 30, MaxBatchSize = 1 << 30, FlushInterval = TimeSpan.FromHours(1) },
            _transport);
        // The app's request span for TrackInSpan, which makes it current itself.
        _request = new Activity("bench request").SetIdFormat(ActivityIdFormat.W3C).Start();
        Activity.Current = null;
        _liveClient = new FeedbackClient(
            new FeedbackClientOptions { AppId = "bench", MaxQueueLength = QueueLength, MaxQueueBytes = 1L << 30 },
            new DiscardingTransport());
        (_otelProcessor, _otelFactory, _otelLogger) = CreateOtel(maxExportBatchSize: QueueLength, scheduledDelayMs: 3_600_000);
        (_otelLiveProcessor, _otelLiveFactory, _otelLiveLogger) = CreateOtel(maxExportBatchSize: 512, scheduledDelayMs: 1000);
    }

    private static (BatchLogRecordExportProcessor, ILoggerFactory, ILogger) CreateOtel(int maxExportBatchSize, int scheduledDelayMs)
    {
        var processor = new BatchLogRecordExportProcessor(new DiscardingExporter(), maxQueueSize: QueueLength,
            scheduledDelayMilliseconds: scheduledDelayMs, exporterTimeoutMilliseconds: 30_000, maxExportBatchSize: maxExportBatchSize);
        var factory = LoggerFactory.Create(logging => logging.AddOpenTelemetry(otel =>
        {
            otel.IncludeFormattedMessage = false;
            otel.AddProcessor(processor);
        }));
        return (processor, factory, factory.CreateLogger("FeedbackLoop.Bench"));
    }

    /// <summary>
    /// The app thread's own allocations per call. BenchmarkDotNet's Allocated column counts every thread
    /// (background serialization included), so this reads the workload thread's counter around each
    /// iteration; the last iteration's value is left in <see cref="CallerAllocFile"/>.
    /// </summary>
    private long _threadAllocatedAtStart;

    [IterationSetup]
    public void MarkAllocations() => _threadAllocatedAtStart = GC.GetAllocatedBytesForCurrentThread();

    [IterationCleanup(Targets = [nameof(Track)])]
    public void DrainTrack() => Drain(nameof(Track));

    [IterationCleanup(Targets = [nameof(Shown)])]
    public void DrainShown() => Drain(nameof(Shown));

    [IterationCleanup(Targets = [nameof(Otel)])]
    public void DrainOtel() => Drain(nameof(Otel));

    [IterationSetup(Targets = [nameof(TrackInSpan)])]
    public void MarkTraced()
    {
        _tracedBefore = _transport.Traced;
        _sentBefore = _client.Counters.Sent;
        MarkAllocations();
    }

    [IterationCleanup(Targets = [nameof(TrackInSpan)])]
    public void DrainTrackInSpan()
    {
        Drain(nameof(TrackInSpan));
        // Guards the row's meaning: every event of the iteration must carry the span (the overhead stages make none).
        if (_transport.Traced - _tracedBefore != _client.Counters.Sent - _sentBefore) throw new InvalidOperationException("the calls did not see the request span");
    }

    [IterationCleanup(Targets = [nameof(TrackLive)])]
    public void DrainTrackLive() => Drain(nameof(TrackLive));

    [IterationCleanup(Targets = [nameof(OtelLive)])]
    public void DrainOtelLive() => Drain(nameof(OtelLive));

    private void Drain(string method)
    {
        var perCall = (GC.GetAllocatedBytesForCurrentThread() - _threadAllocatedAtStart) / (double)Operations;
        File.WriteAllText(CallerAllocFile(method), perCall.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
        foreach (var client in new[] { _client, _liveClient })
        {
            if (!client.FlushAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult()) throw new InvalidOperationException("the SDK did not drain");
        }
        foreach (var processor in new[] { _otelProcessor, _otelLiveProcessor })
        {
            if (!processor.ForceFlush(30_000)) throw new InvalidOperationException("OpenTelemetry did not drain");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _request.Dispose();
        _liveClient.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _otelFactory.Dispose();
        _otelLiveFactory.Dispose();
    }

    /// <summary>Where <see cref="Drain"/> leaves the caller-thread bytes per call of <paramref name="method"/>.</summary>
    public static string CallerAllocFile(string method) => Path.Combine(Path.GetTempPath(), "feedbackloop-bench-caller-alloc-" + method);

    /// <summary>The SDK's thumb call: four fields, stamped and queued.</summary>
    [Benchmark(Baseline = true, Description = "FeedbackClient.Thumb (caller)")]
    public bool Track() => _client.Thumb("session-1", "user-1", "generation-1", ThumbValue.Up);

    /// <summary>
    /// <see cref="Track"/> inside the app's request span: the call also copies the span's ids into its slot.
    /// BenchmarkDotNet runs iteration setups in async frames of their own, so a span made current there never
    /// reaches the workload; it is made current here instead, on an iteration's first call. The check is one
    /// more read of <see cref="Activity.Current"/> per call, so this row errs high, and the one set per
    /// iteration (an execution context, about 100 B) is spread over 65,536 calls.
    /// </summary>
    [Benchmark(Description = "FeedbackClient.Thumb inside a span (caller)")]
    public bool TrackInSpan()
    {
        if (Activity.Current != _request) Activity.Current = _request;
        return _client.Thumb("session-1", "user-1", "generation-1", ThumbValue.Up);
    }

    /// <summary>The SDK's richest call, with the generation id given (so it allocates no id string).</summary>
    [Benchmark(Description = "FeedbackClient.Shown, id given (caller)")]
    public string Shown() => _client.Shown("session-1", "user-1", "model-1", Input, "Open Settings, then Security.", generationId: "generation-1");

    /// <summary>OpenTelemetry's log path with the same four fields as <see cref="Track"/>.</summary>
    [Benchmark(Description = "OpenTelemetry ILogger → batch processor (caller)")]
    public void Otel() => LogThumb(_otelLogger, "session-1", "user-1", "generation-1", "up");

    /// <summary><see cref="Track"/> with the sender draining concurrently (default options).</summary>
    [Benchmark(Description = "FeedbackClient.Thumb (sender live)")]
    public bool TrackLive() => _liveClient.Thumb("session-1", "user-1", "generation-1", ThumbValue.Up);

    /// <summary><see cref="Otel"/> with the exporter draining concurrently (batches of 512, as by default).</summary>
    [Benchmark(Description = "OpenTelemetry (exporter live)")]
    public void OtelLive() => LogThumb(_otelLiveLogger, "session-1", "user-1", "generation-1", "up");

    [LoggerMessage(EventId = 1, EventName = "feedback.thumb", Level = LogLevel.Information, Message = "thumb {session_id} {user_id} {generation_id} {value}")]
    private static partial void LogThumb(ILogger logger, string session_id, string user_id, string generation_id, string value);

    /// <summary>Drops every batch (the events arrive already serialized by the sender).</summary>
    private sealed class DiscardingTransport : IFeedbackTransport
    {
        private long _traced;

        /// <summary>Events received with a trace context.</summary>
        public long Traced => Interlocked.Read(ref _traced);

        public Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
        {
            var traced = 0;
            foreach (var e in batch)
            {
                if (e.HasTraceContext) traced++;
            }
            Interlocked.Add(ref _traced, traced);
            return Task.FromResult(SendResult.AllDelivered(batch.Count));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// Writes each record's fields as a JSON object into its own byte array and drops it: the same background
    /// work the SDK's sender does per event (it serializes each event, then the transport discards it), so
    /// neither side's background thread is free while the other's is busy.
    /// </summary>
    private sealed class DiscardingExporter : BaseExporter<LogRecord>
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(1024);

        public override ExportResult Export(in Batch<LogRecord> batch)
        {
            foreach (var record in batch)
            {
                _buffer.ResetWrittenCount();
                using (var json = new System.Text.Json.Utf8JsonWriter(_buffer))
                {
                    json.WriteStartObject();
                    json.WriteString("timestamp", record.Timestamp);
                    json.WriteString("event_name", record.EventId.Name);
                    foreach (var attribute in record.Attributes ?? [])
                    {
                        json.WriteString(attribute.Key, attribute.Value?.ToString());
                    }
                    json.WriteEndObject();
                }
                GC.KeepAlive(_buffer.WrittenSpan.ToArray());
            }
            return ExportResult.Success;
        }
    }
}
