namespace FeedbackLoop.Sdk;

/// <summary>Why an event was dropped. Every drop is counted under exactly one reason.</summary>
public enum DropReason
{
    /// <summary>The in-memory queue held <see cref="FeedbackClientOptions.MaxQueueLength"/> events.</summary>
    QueueFull,
    /// <summary>The in-memory queue held <see cref="FeedbackClientOptions.MaxQueueBytes"/> bytes.</summary>
    QueueBytes,
    /// <summary>The event serializes to more than the contract's 32 KiB (and truncation was off or could not make it fit).</summary>
    Oversized,
    /// <summary>The client was shut down when the event arrived.</summary>
    ShutDown,
    /// <summary>The sender failed on the event's batch before any transport saw it (a bug or a throwing redactor).</summary>
    SenderError,
    /// <summary>
    /// The event breaks the wire contract (an empty or over-long id, a rating outside 1–5, an unknown role):
    /// the pipeline would only dead-letter it, so it is counted and logged with the field at fault instead.
    /// </summary>
    Invalid,
    /// <summary>The disk spool was at its byte cap.</summary>
    SpoolFull,
    /// <summary>A spooled record failed its checksum or was cut short; it is never sent.</summary>
    SpoolCorrupt,
    /// <summary>
    /// A spooled record, or a whole segment file, the spool cannot prove it wrote: its MAC does not verify
    /// under the spool's key (forged, or altered with its checksum fixed up), or the segment is not a plain
    /// file. It is never sent.
    /// </summary>
    SpoolForged,
}

/// <summary>
/// What the client and its transports did with the events they were given. Every event received ends
/// in exactly one of: sampled out, dropped (by reason), rejected, failed, or sent; spooled events are
/// counted as spooled and later once more as sent, rejected or dropped (the spool never gives up on
/// its own).
/// </summary>
/// <remarks>
/// These are plain atomic counts so the hot path pays one interlocked add at most; the
/// <c>FeedbackLoop.Sdk</c> meter observes them.
/// </remarks>
public sealed class FeedbackClientCounters
{
    private static readonly int ReasonCount = Enum.GetValues<DropReason>().Length;

    private readonly long[] _dropped = new long[ReasonCount];
    private long _sampledOut;
    private long _sent;
    private long _spooled;
    private long _rejected;
    private long _failed;
    private long _retried;
    private long _senderRestarts;
    private long _truncated;
    private long _sessionDefaulted;
    private Func<long>? _queued;
    private Func<long>? _queueDepth;
    private Func<long>? _spoolBytes;

    /// <summary>Events handed to the client (every call, kept or not).</summary>
    public long Received => Queued + SampledOut + Dropped(DropReason.QueueFull) + Dropped(DropReason.QueueBytes) + Dropped(DropReason.ShutDown);

    /// <summary>Events that entered the in-memory queue.</summary>
    public long Queued => (_queued?.Invoke() ?? 0) - Dropped(DropReason.QueueBytes); // a bytes drop claimed a slot first

    /// <summary>Events left out by sampling (their whole session is left out).</summary>
    public long SampledOut => Interlocked.Read(ref _sampledOut);

    /// <summary>Events the destination acknowledged.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Events written to the disk spool (each is later also counted as sent, rejected, failed or dropped).</summary>
    public long Spooled => Interlocked.Read(ref _spooled);

    /// <summary>Events the destination refused for good (HTTP 413 or another 4xx); never retried.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Events given up on after the retry time budget (without a spool).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Events sent again after a transient failure (one per event per retry).</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>
    /// <c>generation.shown</c> events whose conversation was shortened to fit the event size limit instead of being
    /// dropped (<see cref="FeedbackClientOptions.TruncateLargeInput"/>); each is also counted as sent, spooled or lost as usual.
    /// </summary>
    public long Truncated => Interlocked.Read(ref _truncated);

    /// <summary>
    /// Responses the chat middleware reported without any session id (none on the call, no <see cref="FeedbackSession"/>,
    /// no conversation id), under their generation id as the session: feedback the app sends under its own session will
    /// not join them.
    /// </summary>
    public long SessionDefaulted => Interlocked.Read(ref _sessionDefaulted);

    /// <summary>Times the background sender failed unexpectedly and was restarted.</summary>
    public long SenderRestarts => Interlocked.Read(ref _senderRestarts);

    /// <summary>Events waiting in the in-memory queue now.</summary>
    public long QueueDepth => _queueDepth?.Invoke() ?? 0;

    /// <summary>Bytes in the disk spool now (0 without a spool).</summary>
    public long SpoolBytes => _spoolBytes?.Invoke() ?? 0;

    /// <summary>Events dropped for <paramref name="reason"/>.</summary>
    public long Dropped(DropReason reason) => Interlocked.Read(ref _dropped[(int)reason]);

    /// <summary>Events dropped for any reason.</summary>
    public long DroppedTotal()
    {
        long total = 0;
        for (var i = 0; i < _dropped.Length; i++) total += Interlocked.Read(ref _dropped[i]);
        return total;
    }

    /// <summary>Events dropped because the queue was full (by count or by bytes).</summary>
    public long DroppedQueueFull => Dropped(DropReason.QueueFull) + Dropped(DropReason.QueueBytes);

    /// <summary>Events dropped because they serialize to more than 32 KiB.</summary>
    public long DroppedOversized => Dropped(DropReason.Oversized);

    internal void AddSampledOut() => Interlocked.Increment(ref _sampledOut);
    internal void AddDropped(DropReason reason, long count = 1) => Interlocked.Add(ref _dropped[(int)reason], count);
    internal void AddSent(long count) => Interlocked.Add(ref _sent, count);
    internal void AddSpooled(long count) => Interlocked.Add(ref _spooled, count);
    internal void AddRejected(long count) => Interlocked.Add(ref _rejected, count);
    internal void AddFailed(long count) => Interlocked.Add(ref _failed, count);
    internal void AddRetried(long count) => Interlocked.Add(ref _retried, count);
    internal void AddSenderRestart() => Interlocked.Increment(ref _senderRestarts);
    internal void AddTruncated() => Interlocked.Increment(ref _truncated);
    internal long AddSessionDefaulted() => Interlocked.Increment(ref _sessionDefaulted);

    internal void ObserveQueue(Func<long> queued, Func<long> depth)
    {
        _queued = queued;
        _queueDepth = depth;
    }

    internal void ObserveSpool(Func<long> bytes) => _spoolBytes = bytes;
}
