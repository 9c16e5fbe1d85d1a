using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The extractor's telemetry against the real (in-process) cluster: the app's spans ride on the records as
/// traceparent headers and the extractor's commit span continues them; the FeedbackLoop.Extraction meter,
/// read through a real MeterListener while the loop runs, reports what the loop did.
/// </summary>
public sealed class ExtractionTelemetryTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_apps_spans_ride_on_the_records_and_the_commit_span_continues_them_into_the_commit_callback()
    {
        // One partition, so the records are read in the order the app reported them.
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        using var app = new ActivitySource("FeedbackLoop.IntegrationTests.App");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source == app || source.Name == ExtractionTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        // Two requests of the app, each reporting half of the sessions.
        var events = KnownSessions.All();
        var half = events.Count / 2;
        ActivityContext first, second;
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "demo" }, new KafkaFeedbackTransport(fixture.Cluster.BootstrapServers, harness.Topic)))
        {
            using (var request = app.StartActivity("first request"))
            {
                first = request!.Context;
                foreach (var evt in events.Take(half)) Assert.True(client.Track(evt));
            }
            using (var request = app.StartActivity("second request"))
            {
                second = request!.Context;
                foreach (var evt in events.Skip(half)) Assert.True(client.Track(evt));
            }
            Assert.True(await client.FlushAsync(Deadline));
            Assert.Equal(events.Count, client.Counters.Sent);
        }

        // (i) Each record carries its request's span as a W3C traceparent header.
        var headers = ReadTraceParents(harness, events.Count);
        Assert.Equal(Enumerable.Repeat(TraceParent.Format(first), half).Concat(Enumerable.Repeat(TraceParent.Format(second), events.Count - half)), headers);

        // One batch: no timed flush, so the only commit is the one at idle.
        var commits = new ConcurrentQueue<ExtractionWriteResult>();
        var options = harness.Options() with { FlushInterval = TimeSpan.FromHours(1), Committed = commits.Enqueue };
        var loop = new ExtractionLoop(options, new DatasetStore(harness.DataRoot), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            await loop.RunAsync(timeout.Token);
        }
        Assert.Equal(events.Count, loop.Progress.EventsProcessed);

        // (ii) The commit span is a child of the first traced record's span, in the app's trace, linked to the other request.
        var commit = Assert.Single(stopped, a => a.OperationName == ExtractionTelemetry.CommitActivityName && a.TraceId == first.TraceId);
        Assert.Equal(ExtractionTelemetry.ActivitySourceName, commit.Source.Name);
        Assert.Equal(first.SpanId, commit.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, commit.Kind);
        Assert.NotEqual(ActivityStatusCode.Error, commit.Status);
        var link = Assert.Single(commit.Links); // the first request's other records share the parent, so no links of their own
        Assert.Equal((second.TraceId, second.SpanId), (link.Context.TraceId, link.Context.SpanId));
        Assert.Equal(events.Count, Convert.ToInt64(commit.GetTagItem("messaging.batch.message_count"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(events.Count, Convert.ToInt32(commit.GetTagItem("feedbackloop.extraction.traced_records"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(KnownSessions.ExpectedPairsBySignal.Values.Sum(), Convert.ToInt32(commit.GetTagItem("feedbackloop.extraction.pairs_written"), System.Globalization.CultureInfo.InvariantCulture));

        // (iii) The commit callback names the commit span, so DatasetCommitted can carry the trace on.
        var written = Assert.Single(commits);
        Assert.True(TraceParent.TryParse(written.TraceParent, out var announced), written.TraceParent);
        Assert.Equal((first.TraceId, commit.SpanId), (announced.TraceId, announced.SpanId));
        Assert.Equal(0, loop.Progress.InvalidTraceParents);
    }

    [Fact]
    public async Task The_extraction_meter_reports_reads_processing_dead_letters_rows_lag_sessions_and_commit_age_while_the_loop_runs()
    {
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        const int perFlush = 4;
        var known = KnownSessions.All();
        var records = known.Select(Valid).ToList();
        records.Add(Valid(known[1]));                                                                              // a duplicate event_id
        records.AddRange(new SessionScript("demo", "s-open", "u9", KnownSessions.Start.AddMinutes(10))             // a session left open
            .Shown("o-1", "Still typing", "…").Add(new ThumbGiven("o-1", ThumbValue.Up)).Events.Select(Valid));
        records.Add(("s-bad", Encoding.UTF8.GetBytes("{\"event_id\":"), null));                                  // not JSON
        records.Add(("not-the-session", Valid(Event("s-key", "e-key")).Value, null));                             // key ≠ session_id
        records.Add(("s-tp", Valid(Event("s-tp", "e-tp")).Value, "00-not-a-trace-parent"));                     // valid event, malformed traceparent
        // Flushes come only every perFlush records (no timed flush), so the last record is a flush too.
        while (records.Count % perFlush != 0) records.Add(Valid(Event("s-pad-" + records.Count, "e-pad-" + records.Count)));
        var valid = known.Count + 2 + (records.Count - known.Count - 6) + 1;
        Produce(harness, records);

        using var meters = new ScopedMeterFactory();
        using var readings = new MeterReadings(meters);
        var sink = new GatedSink(new DatasetStore(harness.DataRoot));
        var options = harness.Options() with { UntilIdle = null, FlushInterval = TimeSpan.FromHours(1), MaxEventsPerFlush = perFlush, MeterFactory = meters };
        var loop = new ExtractionLoop(options, sink, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        try
        {
            // The first write with rows waits at the gate; the next flush waits for it, so reading stops there.
            Assert.True(await Eventually.TrueAsync(() =>
            {
                readings.Collect();
                return sink.Entered && readings.Get("consumer_lag", "partition", 0) is > 0 and var lag
                    && lag + readings.Get("events_read") == records.Count && readings.Get("oldest_uncommitted_offset_age") >= 0.3;
            }, Deadline), "the loop stopped reading behind the held write, with lag; " + readings);
            var sinceEntered = Stopwatch.GetElapsedTime(sink.EnteredAt).TotalSeconds;
            readings.Collect();
            var read = (int)readings.Get("events_read")!.Value;
            Assert.Equal(0, read % perFlush);
            Assert.Equal(records.Count - read, readings.Get("consumer_lag", "partition", 0));
            Assert.Equal(read, readings.Get("events_processed")); // the records before the invalid ones are all valid and distinct
            Assert.Equal(0, readings.Get("rows_written", "dataset", DatasetKinds.PreferencePairs));
            Assert.Equal(OpenSessionsAfter(known.Take(read)), readings.Get("open_sessions"));
            // The batch in flight was read before its write began, so its age is at least the time since then.
            Assert.True(readings.Get("oldest_uncommitted_offset_age") >= sinceEntered, $"age {readings.Get("oldest_uncommitted_offset_age")} s, held for {sinceEntered} s");
        }
        finally
        {
            sink.Release();
        }

        var pairs = KnownSessions.ExpectedPairsBySignal.Values.Sum();
        Assert.True(await Eventually.TrueAsync(() =>
        {
            readings.Collect();
            return readings.Get("events_read") == records.Count && readings.Get("consumer_lag", "partition", 0) == 0
                && readings.Get("oldest_uncommitted_offset_age") == 0 && readings.Get("rows_written", "dataset", DatasetKinds.PreferencePairs) == pairs;
        }, Deadline), "everything read was committed; " + readings);
        readings.Collect();
        Assert.Equal(records.Count, readings.Get("events_read"));
        Assert.Equal(valid, readings.Get("events_processed"));
        Assert.Equal(1, readings.Get("events_duplicate"));
        Assert.Equal(1, readings.Get("events_dead_lettered", "reason", "not_json"));
        Assert.Equal(1, readings.Get("events_dead_lettered", "reason", "key_mismatch"));
        foreach (var quiet in new[] { "invalid_field", "too_large", "unsupported_version", "unknown_type", "empty" })
        {
            Assert.Equal(0, readings.Get("events_dead_lettered", "reason", quiet));
        }
        Assert.Equal(pairs, readings.Get("rows_written", "dataset", DatasetKinds.PreferencePairs));
        Assert.Equal(KnownSessions.ExpectedLabels, readings.Get("rows_written", "dataset", DatasetKinds.FeedbackLabels));
        Assert.Equal(0, readings.Get("consumer_lag", "partition", 0));
        Assert.Equal(1, readings.Get("open_sessions")); // s-open; every other session ended
        Assert.Equal(0, readings.Get("oldest_uncommitted_offset_age"));
        Assert.Equal(1, readings.Get("traceparent_invalid"));
        var engagementMetric = readings.Get("rows_written", "dataset", DatasetKinds.Engagement);

        await stop.CancelAsync();
        await running;

        // The same numbers from the outside: the dataset files and the dead-letter topic.
        Assert.Equal(pairs, (await DatasetReader.ReadPairsAsync(harness.DataRoot, "demo")).Count);
        Assert.Equal(KnownSessions.ExpectedLabels, (await DatasetReader.ReadLabelsAsync(harness.DataRoot, "demo")).Count);
        var windows = await DatasetReader.ReadEngagementAsync(harness.DataRoot, "demo");
        Assert.NotEmpty(windows);
        Assert.Equal(windows.Count, engagementMetric);
        Assert.Equal(2, harness.ReadDeadLetters().Count);

        // Units and kinds as documented (OpenTelemetry naming: UCUM units, annotations in braces).
        Assert.Equal("{record}", readings.Instrument("events_read").Unit);
        Assert.Equal("{row}", readings.Instrument("rows_written").Unit);
        Assert.Equal("s", readings.Instrument("oldest_uncommitted_offset_age").Unit);
        Assert.IsType<ObservableGauge<double>>(readings.Instrument("oldest_uncommitted_offset_age"));
        Assert.IsType<ObservableGauge<long>>(readings.Instrument("consumer_lag"));
        Assert.IsType<ObservableCounter<long>>(readings.Instrument("events_dead_lettered"));
        Assert.All(readings.Instruments, i => Assert.False(string.IsNullOrEmpty(i.Description)));
    }

    /// <summary>What a fresh extractor holds open after the same valid events: the value the gauge must show.</summary>
    private static int OpenSessionsAfter(IEnumerable<FeedbackEvent> events)
    {
        var extractor = new Extractor();
        var offset = 0;
        foreach (var evt in events) extractor.Process(0, offset++, evt);
        return extractor.OpenSessions;
    }

    private static FeedbackEvent Event(string session, string id) =>
        new(id, "demo", session, "u-x", KnownSessions.Start.AddMinutes(10), SessionEnded.Instance);

    private static (string Key, byte[] Value, string? TraceParent) Valid(FeedbackEvent evt) =>
        (evt.SessionId, EventJson.SerializeToUtf8Bytes(evt), null);

    private static void Produce(PipelineHarness harness, List<(string Key, byte[] Value, string? TraceParent)> records)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = harness.Cluster.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
        }).Build();
        var errors = 0;
        foreach (var (key, value, traceParent) in records)
        {
            var message = new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = value };
            if (traceParent is not null) message.Headers = new Headers { { TraceParent.HeaderName, Encoding.UTF8.GetBytes(traceParent) } };
            producer.Produce(harness.Topic, message, r => { if (r.Error.IsError) Interlocked.Increment(ref errors); });
        }
        Assert.Equal(0, producer.Flush(Deadline));
        Assert.Equal(0, errors);
    }

    /// <summary>The traceparent header of every record of the (one-partition) topic, in order; null where there is none.</summary>
    private static List<string?> ReadTraceParents(PipelineHarness harness, int expected)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = harness.Cluster.BootstrapServers,
            GroupId = "trace-check-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(harness.Topic, 0, Offset.Beginning));
        var values = new List<string?>();
        var clock = Stopwatch.StartNew();
        while (values.Count < expected && clock.Elapsed < Deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is not { Message: { } message }) continue;
            values.Add(message.Headers.TryGetLastBytes(TraceParent.HeaderName, out var bytes) ? Encoding.UTF8.GetString(bytes) : null);
        }
        return values;
    }

    /// <summary>Holds every write until released, and says when the first one arrived.</summary>
    private sealed class GatedSink(IExtractionSink inner) : IExtractionSink
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _enteredAt;

        public bool Entered => EnteredAt != 0;

        public long EnteredAt => Interlocked.Read(ref _enteredAt);

        public void Release() => _release.TrySetResult();

        public async Task<ExtractionWriteResult> WriteAsync(ExtractionOutput output, CancellationToken cancellationToken = default)
        {
            Interlocked.CompareExchange(ref _enteredAt, Stopwatch.GetTimestamp(), 0);
            await _release.Task.WaitAsync(cancellationToken);
            return await inner.WriteAsync(output, cancellationToken);
        }
    }

    /// <summary>The latest value of every FeedbackLoop.Extraction measurement of one meter factory, through a real MeterListener.</summary>
    private sealed class MeterReadings : IDisposable
    {
        private const string Prefix = "feedbackloop.extraction.";
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, double> _values = new();
        private readonly ConcurrentDictionary<string, Instrument> _instruments = new();

        public MeterReadings(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (!ReferenceEquals(instrument.Meter.Scope, scope) || instrument.Meter.Name != ExtractionTelemetry.MeterName) return;
                _instruments[instrument.Name] = instrument;
                listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _values[Key(instrument.Name, tags)] = value);
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _values[Key(instrument.Name, tags)] = value);
            _listener.Start();
        }

        public IEnumerable<Instrument> Instruments => _instruments.Values;

        public Instrument Instrument(string name) => _instruments[Prefix + name];

        /// <summary>Asks every observable instrument for its current value.</summary>
        public void Collect() => _listener.RecordObservableInstruments();

        public double? Get(string name, string? tag = null, object? value = null) =>
            _values.TryGetValue(Prefix + name + (tag is null ? "" : $"{{{tag}={value}}}"), out var v) ? v : null;

        public override string ToString() => string.Join(", ", _values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key[Prefix.Length..]}={p.Value}"));

        public void Dispose() => _listener.Dispose();

        private static string Key(string name, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = new StringBuilder(name);
            foreach (var tag in tags) key.Append('{').Append(tag.Key).Append('=').Append(tag.Value).Append('}');
            return key.ToString();
        }
    }
}
