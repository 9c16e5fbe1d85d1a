using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Queue;
using FeedbackLoop.Sdk.Sampling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.Sdk;

/// <summary>
/// What an app embeds to report what users did with model outputs. A call only stamps the time and writes
/// its arguments into a preallocated slot of a bounded queue: it never blocks, never throws for delivery
/// problems, allocates nothing, and drops (and counts) the event when the queue is full by count or by
/// bytes. A supervised background sender builds, redacts and serializes the events and hands them in
/// batches to the transport (retry and the optional disk spool wrap it).
/// </summary>
public sealed partial class FeedbackClient : IFeedbackClient, IAsyncDisposable, IDisposable
{
    private readonly FeedbackClientOptions _options;
    private readonly IFeedbackTransport _transport;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly EventRing _ring;
    private readonly SessionSampler? _sampler;
    private readonly EventSender _sender;
    private readonly FeedbackClientMetrics _metrics;
    private readonly int _wakeMask;
    private long _queuedBytes;
    private int _shutdown;

    /// <summary>
    /// Creates a client sending through <paramref name="transport"/>, which it owns from now on. With
    /// <see cref="FeedbackClientOptions.Retry"/> set (the default) the transport is wrapped in retries, and
    /// with <see cref="FeedbackClientOptions.Spool"/> set every batch goes through the disk spool first.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the exception names it.</exception>
    public FeedbackClient(FeedbackClientOptions options, IFeedbackTransport transport, ILogger<FeedbackClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transport);
        options.Validate();
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = options.TimeProvider;
        _sampler = options.Sampling is { KeepsEverything: false } sampler ? sampler : null;
        _ring = new EventRing(options.MaxQueueLength);
        // Wake the sender about every half batch (a power of two, so the check is a mask, not a division).
        _wakeMask = (int)Math.Max(1, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, options.MaxBatchSize)) / 2) - 1;
        Counters.ObserveQueue(() => _ring.Claimed, () => _ring.Count);
        Health = new DeliveryHealth(_time);
        _transport = TransportPipeline.Build(transport, options, Counters, _logger, Health);
        _sender = new EventSender(_ring, _transport, options, Counters, _logger, ReleaseBytes);
        _metrics = new FeedbackClientMetrics(Counters, options.AppId, options.MeterFactory);
    }

    /// <summary>What happened to the events given to this client (also published as the <c>FeedbackLoop.Sdk</c> meter).</summary>
    public FeedbackClientCounters Counters { get; } = new();

    /// <summary>How delivery is going, for the health check (docs/SDK.md, "Health check").</summary>
    internal DeliveryHealth Health { get; }

    /// <summary>Whether a disk spool holds events that wait for delivery.</summary>
    internal bool Spools => _options.Spool is not null;

    /// <summary>The app id stamped on every event.</summary>
    public string AppId => _options.AppId;

    /// <summary>
    /// Reports that a model output was shown; returns its generation id (a new UUIDv7 unless given — pass your
    /// own to keep the call allocation-free). <paramref name="position"/> and <paramref name="latencyMs"/> must
    /// not be negative.
    /// </summary>
    public string Shown(
        string sessionId, string userId, string modelVersion, IReadOnlyList<ConversationTurn> input, string output,
        string? generationId = null, string? variant = null, string? candidateSetId = null, int? position = null,
        string? promptVersion = null, long? latencyMs = null)
    {
        generationId ??= GenerationIds.New();
        if (!TryClaim(PendingKind.Shown, sessionId, out var pos)) return generationId;
        ref var e = ref Fill(pos, PendingKind.Shown, sessionId, userId);
        e.A = generationId;
        e.B = modelVersion;
        e.C = output;
        e.D = promptVersion;
        e.E = variant;
        e.F = candidateSetId;
        e.Object = input;
        e.Small = position ?? -1;
        e.Number = latencyMs ?? -1;
        Publish(pos, ref e);
        return generationId; // returned even when dropped: feedback on it is harmless and the app's flow stays simple
    }

    /// <summary>Thumb up or down; the latest per (generation, user) counts. False when the event was not queued (dropped or sampled out).</summary>
    public bool Thumb(string sessionId, string userId, string generationId, ThumbValue value)
    {
        if (!TryClaim(PendingKind.Thumb, sessionId, out var pos)) return false;
        ref var e = ref Fill(pos, PendingKind.Thumb, sessionId, userId);
        e.A = generationId;
        e.Small = (int)value;
        return Publish(pos, ref e);
    }

    /// <summary>A 1–5 rating. False when the event was not queued.</summary>
    public bool Rating(string sessionId, string userId, string generationId, int score)
    {
        if (!TryClaim(PendingKind.Rating, sessionId, out var pos)) return false;
        ref var e = ref Fill(pos, PendingKind.Rating, sessionId, userId);
        e.A = generationId;
        e.Small = score;
        return Publish(pos, ref e);
    }

    /// <summary>The user asked for another output instead of <paramref name="generationId"/>. False when the event was not queued.</summary>
    public bool Regenerated(string sessionId, string userId, string generationId, string replacementGenerationId) =>
        TrackStrings(PendingKind.Regenerated, sessionId, userId, generationId, replacementGenerationId);

    /// <summary>The user edited the output into <paramref name="editedOutput"/>. False when the event was not queued.</summary>
    public bool Edited(string sessionId, string userId, string generationId, string editedOutput) =>
        TrackStrings(PendingKind.Edited, sessionId, userId, generationId, editedOutput);

    /// <summary>The user copied the output. False when the event was not queued.</summary>
    public bool Copied(string sessionId, string userId, string generationId) =>
        TrackStrings(PendingKind.Copied, sessionId, userId, generationId, null);

    /// <summary>A suggestion was accepted. False when the event was not queued.</summary>
    public bool Accepted(string sessionId, string userId, string generationId) =>
        TrackStrings(PendingKind.Accepted, sessionId, userId, generationId, null);

    /// <summary>A suggestion was dismissed. False when the event was not queued.</summary>
    public bool Rejected(string sessionId, string userId, string generationId) =>
        TrackStrings(PendingKind.Rejected, sessionId, userId, generationId, null);

    /// <summary>The user chose <paramref name="chosenGenerationId"/> among the candidates shown side by side. False when the event was not queued.</summary>
    public bool ComparisonChosen(string sessionId, string userId, string candidateSetId, string chosenGenerationId) =>
        TrackStrings(PendingKind.ComparisonChosen, sessionId, userId, candidateSetId, chosenGenerationId);

    /// <summary>The output was visible for <paramref name="visibleMs"/> milliseconds. False when the event was not queued.</summary>
    public bool Dwell(string sessionId, string userId, string generationId, long visibleMs)
    {
        if (!TryClaim(PendingKind.Dwell, sessionId, out var pos)) return false;
        ref var e = ref Fill(pos, PendingKind.Dwell, sessionId, userId);
        e.A = generationId;
        e.Number = visibleMs;
        return Publish(pos, ref e);
    }

    /// <summary>The session is over; the pipeline resolves it now rather than after 30 minutes. False when the event was not queued.</summary>
    public bool SessionEnded(string sessionId, string userId) =>
        TrackStrings(PendingKind.SessionEnded, sessionId, userId, null, null);

    /// <summary>Queues an event of any type with a new event id and the current time. False when it was not queued.</summary>
    public bool Track(string sessionId, string userId, EventData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!TryClaim(PendingKind.Data, sessionId, out var pos, data.Type)) return false;
        ref var e = ref Fill(pos, PendingKind.Data, sessionId, userId);
        e.Object = data;
        return Publish(pos, ref e);
    }

    /// <summary>Queues a complete event as it is (its id and time are kept). False when it was not queued.</summary>
    public bool Track(FeedbackEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (!TryClaim(PendingKind.Event, evt.SessionId, out var pos, evt.Type)) return false;
        ref var e = ref Fill(pos, PendingKind.Event, evt.SessionId, evt.UserId);
        e.Object = evt;
        return Publish(pos, ref e);
    }

    /// <summary>
    /// Sends what is queued now and waits until every event queued before the call was delivered (or
    /// written to the spool), or the timeout passed. True only when all of them were delivered or spooled;
    /// false when one was dropped, rejected or failed meanwhile, or time ran out. Never throws for delivery
    /// problems.
    /// </summary>
    public Task<bool> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _sender.FlushAsync(_ring.Claimed, timeout, cancellationToken);

    /// <summary>
    /// Stops taking events (later calls are dropped and counted as <see cref="DropReason.ShutDown"/>), delivers
    /// or spools what is queued within <paramref name="timeout"/>, gives the spool the rest of the time to
    /// deliver, and releases the transport. It returns within the timeout plus a tenth of it at most (0.2 s for timeouts
    /// under 2 s): a send still running at the deadline is cancelled, and a transport that ignores that, or is slow to
    /// release, is left to finish in the background. Events not delivered or spooled by then are counted as dropped (<see cref="DropReason.ShutDown"/>)
    /// and logged in one line. True when every queued event was delivered or spooled. Calling it again returns false at once.
    /// </summary>
    public async Task<bool> ShutdownAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _shutdown, 1) == 1) return false;
        var started = _time.GetTimestamp();
        // The sender stops trying one slice of this before the deadline and abandons a cancelled send at the deadline;
        // the transport's release gets up to half a slice more. So a shutdown ends between a slice before its deadline and
        // half a slice after it, with the rest of the tenth the issue allows left for a loaded machine's late timers (CI
        // measured 5.54-5.56 s for 5 s when each step had a grace of its own).
        var grace = ShutdownGrace(timeout);
        var target = _ring.Close();
        var delivered = await _sender.StopAsync(target, Max(timeout - grace, TimeSpan.Zero), Max(timeout, grace)).ConfigureAwait(false);
        var left = timeout - _time.GetElapsedTime(started);
        if (_transport is ISpoolDrain spool && left > TimeSpan.Zero)
        {
            // Everything is on disk already; use what time is left to empty the spool before exiting.
            await spool.DrainAsync(left, CancellationToken.None).ConfigureAwait(false);
        }
        await ReleaseTransportAsync(Max(timeout - _time.GetElapsedTime(started), grace / 2)).ConfigureAwait(false);
        _sender.Dispose();
        _metrics.Dispose();
        return delivered;
    }

    /// <summary>
    /// A twentieth of the timeout, between 100 ms and 5 s: a shutdown gives up delivering this long before its timeout and
    /// may run half of it past (below 2 s the floor leaves a transport that releases at once the time to do so).
    /// </summary>
    internal static TimeSpan ShutdownGrace(TimeSpan timeout) =>
        TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 20, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(5).Ticks));

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// Disposes the transport, waiting for it no longer than <paramref name="within"/>: a producer's own flush on dispose
    /// (librdkafka's) must not stretch the shutdown the app configured. The sender has settled every batch by now, so
    /// whatever a transport still holds was already counted as not delivered.
    /// </summary>
    private async Task ReleaseTransportAsync(TimeSpan within)
    {
        // On a thread of its own, not the pool's: some transports block inside DisposeAsync (librdkafka's flush waits up to
        // 10 s for an unreachable broker), and a pool thread held that long delays the continuations waiting for one.
        var release = Task.Factory.StartNew(() => _transport.DisposeAsync().AsTask(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        try
        {
            await release.WaitAsync(within, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogTransportReleaseSlow(_logger, within.TotalMilliseconds);
            // Observe its end so a late failure is not an unobserved task exception.
            _ = release.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogTransportReleaseFailed(_logger, ex.GetType().Name);
        }
    }

    /// <summary>Shuts down with <see cref="FeedbackClientOptions.ShutdownTimeout"/> (see <see cref="ShutdownAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await ShutdownAsync(_options.ShutdownTimeout).ConfigureAwait(false);

    /// <summary>
    /// The same shutdown for code that disposes synchronously (a plain <c>ServiceProvider</c>, a <c>using</c>
    /// statement): blocks up to <see cref="FeedbackClientOptions.ShutdownTimeout"/> while queued events are delivered
    /// or spooled. It runs on the thread pool, so a caller's synchronization context cannot deadlock it.
    /// </summary>
    public void Dispose() => Task.Run(() => ShutdownAsync(_options.ShutdownTimeout)).GetAwaiter().GetResult();

    private bool TrackStrings(PendingKind kind, string sessionId, string userId, string? a, string? b)
    {
        if (!TryClaim(kind, sessionId, out var pos)) return false;
        ref var e = ref Fill(pos, kind, sessionId, userId);
        e.A = a;
        e.B = b;
        return Publish(pos, ref e);
    }

    /// <summary>Sampling, then a queue position; counts the reason when there is none.</summary>
    private bool TryClaim(PendingKind kind, string sessionId, out long position, string? type = null)
    {
        if (_sampler is not null && !_sampler.Keep(type ?? KindType(kind), sessionId ?? string.Empty))
        {
            Counters.AddSampledOut();
            position = 0;
            return false;
        }
        if (_ring.TryClaim(out position, out var closed)) return true;
        Counters.AddDropped(closed ? DropReason.ShutDown : DropReason.QueueFull);
        return false;
    }

    private static string KindType(PendingKind kind) => new PendingEvent { Kind = kind }.Type;

    private ref PendingEvent Fill(long position, PendingKind kind, string sessionId, string userId)
    {
        ref var e = ref _ring[position];
        e.Kind = kind;
        e.OccurredAtTicks = _time.GetUtcNow().UtcTicks;
        e.SessionId = sessionId;
        e.UserId = userId;
        // The app's current span rides along to the transport (a Kafka traceparent header), so the extractor's
        // commit can join the app's trace. Copying the ids copies references to strings the activity holds:
        // no allocation. The slot was cleared when it was last taken, so a call without a span leaves none.
        if (Activity.Current is { } activity)
        {
            e.TraceId = activity.TraceId;
            e.SpanId = activity.SpanId;
            e.TraceFlags = activity.ActivityTraceFlags;
        }
        return ref e;
    }

    /// <summary>
    /// Makes the slot visible to the sender, unless the queue's byte budget is spent: then the slot is
    /// published as a tombstone the sender skips, and the event counts as dropped for bytes. (The slot was
    /// claimed first so the count bound is checked without a second atomic on the common path.)
    /// </summary>
    private bool Publish(long position, ref PendingEvent e)
    {
        var bytes = e.EstimateBytes();
        var fits = Interlocked.Add(ref _queuedBytes, bytes) <= _options.MaxQueueBytes;
        if (fits)
        {
            e.Bytes = bytes;
        }
        else
        {
            Interlocked.Add(ref _queuedBytes, -bytes);
            e = default;
            e.Kind = PendingKind.Tombstone;
            Counters.AddDropped(DropReason.QueueBytes);
        }
        _ring.Publish(position);
        if ((position & _wakeMask) == _wakeMask) _sender.Wake();
        return fits;
    }

    private void ReleaseBytes(long bytes) => Interlocked.Add(ref _queuedBytes, -bytes);

    /// <summary>
    /// The chat middleware reported a response without any session id: counted every time, warned about once per client
    /// (the cause is in the app's code, so one line says it; the counter says how often).
    /// </summary>
    internal void NoteSessionDefaulted()
    {
        if (Counters.AddSessionDefaulted() == 1) LogSessionDefaulted(_logger);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: a chat response was reported without a session id, so its generation id stands in as the session and feedback sent under the app's own session will not join it; pass FeedbackChatClient.SessionIdKey, ChatOptions.ConversationId, or wrap the call in feedback.BeginSession(...). Counted as session_defaulted; this warning is not repeated")]
    private static partial void LogSessionDefaulted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: the transport was still releasing after {WithinMs} ms; shutdown goes on without waiting for it")]
    private static partial void LogTransportReleaseSlow(ILogger logger, double withinMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: releasing the transport failed ({ErrorType})")]
    private static partial void LogTransportReleaseFailed(ILogger logger, string errorType);
}
