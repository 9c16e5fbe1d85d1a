using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>
/// The opt-in disk spool, a write-ahead decorator: <see cref="SendAsync"/> only appends the batch to the
/// current segment file with one fsync for the whole batch (group commit) and reports it spooled; a
/// background pump reads the records back in order, verifies their checksums and MACs and hands them to the inner
/// transport, recording its progress in a cursor file after every settled batch. So events written during
/// an outage are delivered once it ends, also after the app restarts.
/// </summary>
/// <remarks>
/// <para>Delivery is at least once: a crash between the destination's acknowledgement and the cursor write
/// sends that one batch again (downstream deduplicates by event_id). A normal dispose and restart sends
/// nothing that was acknowledged, also after a partly delivered batch (the cursor keeps the out-of-order
/// acknowledgements). The spool never gives up on an event: failures are retried with a capped backoff for
/// as long as it runs, and what is left stays on disk for the next run.</para>
/// <para>Threads: <see cref="SendAsync"/> is called by the client's sender one batch at a time (the writer);
/// the pump runs on its own task. They share only the segment list, the settled position and the byte
/// count, under <c>_gate</c>. The pump reads no further than what the writer has fsynced, and the writer
/// only ever appends whole records, so the pump never sees a half-written record of this run.</para>
/// <para>Durability assumption: a new segment file's directory entry is taken to be made durable by the fsync
/// of its first batch. The common Linux journaling file systems (ext4, xfs, btrfs) do so in practice, but
/// POSIX does not promise it, and .NET offers no way to fsync a folder; only a power loss (not an app
/// crash) right after a segment is created could lose that segment.</para>
/// </remarks>
internal sealed class SpoolingTransport : IFeedbackTransport, ISpoolDrain
{
    /// <summary>Most events handed to the inner transport at once.</summary>
    internal const int MaxBatchEvents = 500;

    /// <summary>Most JSON bytes handed to the inner transport at once (an event larger than this goes alone), below common 512 KiB request limits.</summary>
    internal const int MaxBatchJsonBytes = 450 * 1024;

    // The writer's reusable buffer; one that grew past this for a batch of large events is let go after it.
    private const int EncodeBufferBytes = 64 * 1024;
    private const int MaxKeptEncodeBufferBytes = 1 << 20;

    // Most trace contexts kept in memory for spooled events not yet read back (about 100 B each with the
    // id strings they hold); beyond it, further events go on without one rather than hold more memory.
    internal const int MaxTracesInMemory = 16_384;

    // How long DisposeAsync waits for a pump whose transport ignores cancellation before it lets go.
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly IFeedbackTransport _inner;
    private readonly SpoolOptions _options;
    private readonly FeedbackClientCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SpoolFolder _folder;
    private readonly SpoolKey _key;

    // Shared by writer and pump under _gate: the segments on disk (oldest first), and the position up to
    // which every record is settled (delivered, rejected or skipped as corrupt).
    private readonly Lock _gate = new();
    private readonly List<Segment> _segments = [];
    private SpoolPosition _settled;
    private bool _closed;
    // Bytes of segment files on disk; written under _gate or by the writer, read lock-free by the gauge.
    private long _bytesOnDisk;

    // The writer's own state, under _writeLock (SendAsync and DisposeAsync).
    private readonly Lock _writeLock = new();
    private ArrayBufferWriter<byte> _encoded = new(EncodeBufferBytes);
    private Segment? _live;
    private FileStream? _liveStream;
    private long _nextSegmentNumber;
    private bool _full;
    private long _dataSyncs;

    // The pump's own state: where it reads next, and offsets beyond that in the same segment which the
    // destination already acknowledged out of order (a partial delivery, in this run or before a restart).
    private SpoolPosition _read;
    private readonly HashSet<long> _ackedAhead = [];
    // Trace contexts of spooled events, by where their record lies, in write order. The record format has
    // no room for them, so they live in memory only: the pump reads records in the same order and picks
    // each one up, and a restart (or a record read twice after a read error) goes on without it.
    private readonly ConcurrentQueue<SpooledTrace> _traces = new();
    private readonly List<(int Offset, ActivityContext Context)> _batchTraces = [];
    private int _traceCount;

    // Held while the pump writes the cursor, so DisposeAsync can shut the folder between two writes.
    private readonly Lock _cursorGate = new();

    // Wakes the pump when the writer commits or seals (capacity 1: one pending wake-up is enough).
    private readonly Channel<bool> _appended = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private TaskCompletionSource _progress = NewSignal();
    private TaskCompletionSource _retryNow = NewSignal();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _pump;
    private int _disposed;

    public SpoolingTransport(IFeedbackTransport inner, SpoolOptions options, FeedbackClientCounters counters, TimeProvider time, ILogger logger)
    {
        options.Validate();
        _inner = inner;
        _options = options;
        _counters = counters;
        _time = time;
        _logger = logger;
        _folder = SpoolFolder.Open(options.Directory);
        try
        {
            _key = options.IntegrityKey is { } secret ? SpoolKey.FromSecret(secret) : _folder.LoadOrCreateKey();
            Recover();
        }
        catch
        {
            _folder.Dispose();
            throw;
        }
        counters.ObserveSpool(() => Interlocked.Read(ref _bytesOnDisk));
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Data fsyncs so far (one per spooled batch at most); tests hold the group commit to it.</summary>
    internal long DataSyncs => Interlocked.Read(ref _dataSyncs);

    /// <summary>Bytes of segment files on disk now.</summary>
    internal long BytesOnDisk => Interlocked.Read(ref _bytesOnDisk);

    /// <summary>
    /// Writes the batch to the spool with one fsync and reports how many events were spooled. Events that
    /// would take the spool past <see cref="SpoolOptions.MaxBytes"/> are dropped and counted
    /// (<see cref="DropReason.SpoolFull"/>) and appear nowhere in the result.
    /// </summary>
    /// <exception cref="FeedbackTransportException">The disk refused the write; none of the batch was spooled.</exception>
    public Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return Task.FromResult(Append(batch));
        }
    }

    /// <summary>
    /// Waits until every spooled record is settled (delivered, rejected or skipped as corrupt), or the
    /// timeout passes. A pump waiting out a backoff tries once more at once. True when nothing is left.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _retryNow, NewSignal()).TrySetResult();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (IsDrained()) return true;
            if (_pump.IsCompleted) return false;
            try
            {
                await Task.WhenAny(progress, _pump).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return IsDrained();
            }
        }
    }

    /// <summary>Stops the pump, leaves undelivered records on disk for the next run, and disposes the inner transport.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _pump.WaitAsync(StopGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            SpoolLog.PumpDidNotStop(_logger, StopGrace);
        }

        lock (_writeLock)
        {
            _liveStream?.Dispose();
            _liveStream = null;
        }
        lock (_cursorGate)
        {
            lock (_gate) _closed = true;
        }
        _folder.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
        // A pump that outlived the grace period still holds the token.
        if (_pump.IsCompleted) _stopping.Dispose();
    }

    private void Recover()
    {
        var found = _folder.ListSegments();
        // Format 1 records carry no MAC, so nothing tells the app's own from planted ones: refused as a whole
        // rather than delivered (trusting them) or dropped one by one (losing an upgrade's backlog unasked).
        if (found.Any(s => s.Length > 0 && _folder.HoldsFormat1(s.Number)))
        {
            throw new InvalidOperationException(
                $"Spool.Directory '{_folder.FullPath}' holds segment files of spool format 1, written by an SDK version before spooled " +
                "records were signed; this version cannot tell them from planted ones and does not deliver them. Deliver them with the " +
                "previous version (run it with the destination up until feedbackloop.sdk.spool.size is 0), or move the *.seg files " +
                "out of the folder; then start again.");
        }

        var cursor = _folder.ReadCursor(_key, out var unreadable);
        if (unreadable) SpoolLog.CursorUnreadable(_logger);
        cursor ??= SpoolCursor.Start;

        long newest = cursor.Segment, bytes = 0;
        foreach (var (number, length) in found)
        {
            if (number < cursor.Segment)
            {
                // Delivered before the restart; its deletion was cut short.
                TryDelete(number);
                continue;
            }
            // Whatever an earlier run wrote is read up to the file's end; a torn tail is found by its checks.
            _segments.Add(new Segment(number) { Committed = length, Sealed = true });
            bytes += length;
            newest = Math.Max(newest, number);
        }
        // Always a new segment, never appending after a tail that may be torn; and never a number at or
        // below the cursor's, which would read as already delivered.
        _nextSegmentNumber = newest + 1;
        _bytesOnDisk = bytes;
        _read = _settled = new SpoolPosition(cursor.Segment, cursor.Offset);
        _ackedAhead.UnionWith(cursor.AckedAhead);
        if (_segments.Count > 0) SpoolLog.Recovered(_logger, _segments.Count, bytes);
    }

    // ---- writer ----

    private SendResult Append(IReadOnlyList<SerializedEvent> batch)
    {
        long wanted = 0;
        foreach (var evt in batch)
        {
            if (SpoolRecord.TryMeasure(evt, out var size)) wanted += size;
        }
        RollIfDue(wanted);

        _encoded.ResetWrittenCount();
        _batchTraces.Clear();
        var room = _options.MaxBytes - Interlocked.Read(ref _bytesOnDisk);
        int spooled = 0, full = 0, unrecordable = 0;
        foreach (var evt in batch)
        {
            if (!SpoolRecord.TryMeasure(evt, out var size))
            {
                unrecordable++;
                continue;
            }
            if (size > room)
            {
                full++;
                continue;
            }
            if (evt.HasTraceContext) _batchTraces.Add((_encoded.WrittenCount, evt.TraceContext));
            SpoolRecord.Write(_encoded.GetSpan(size)[..size], evt, _key);
            _encoded.Advance(size);
            room -= size;
            spooled++;
        }

        if (spooled > 0) Commit(batch.Count);
        if (_encoded.Capacity > MaxKeptEncodeBufferBytes) _encoded = new ArrayBufferWriter<byte>(EncodeBufferBytes);
        if (full > 0) _counters.AddDropped(DropReason.SpoolFull, full);
        if (unrecordable > 0) SpoolLog.Unrecordable(_logger, unrecordable);
        if ((full > 0) != _full)
        {
            _full = full > 0;
            if (_full) SpoolLog.Full(_logger, BytesOnDisk, _options.MaxBytes);
            else SpoolLog.HasRoom(_logger, BytesOnDisk, _options.MaxBytes);
        }
        return new SendResult(Delivered: 0, Spooled: spooled, Rejected: unrecordable);
    }

    // Segments roll only between batches, so one batch is one write and one fsync. A live segment that
    // is already delivered also rolls when its bytes stand between a batch and the cap, so they are freed.
    private void RollIfDue(long wanted)
    {
        if (_live is null) return;
        bool delivered;
        lock (_gate) delivered = _settled.Segment == _live.Number && _settled.Offset >= _live.Committed;
        var overCap = BytesOnDisk + wanted > _options.MaxBytes;
        if (_live.Committed >= _options.SegmentBytes || (overCap && delivered && _live.Committed > 0)) SealLive();
    }

    private void Commit(int batchCount)
    {
        var written = _encoded.WrittenCount;
        try
        {
            if (_liveStream is null) OpenNewSegment();
            _liveStream!.Write(_encoded.WrittenSpan);
            _liveStream.Flush(flushToDisk: true);
            Interlocked.Increment(ref _dataSyncs);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            SpoolLog.WriteFailed(_logger, batchCount, ex);
            AbandonLive();
            throw new FeedbackTransportException("The disk spool could not write the batch; none of it was spooled.", ex);
        }
        // Before the records become readable, so the pump never reads one ahead of its trace context.
        RememberTraces(_live!.Number, _live.Committed);
        lock (_gate) _live!.Committed += written;
        Interlocked.Add(ref _bytesOnDisk, written);
        _appended.Writer.TryWrite(true);
    }

    private void RememberTraces(long segment, long batchStart)
    {
        foreach (var (offset, context) in _batchTraces)
        {
            if (Volatile.Read(ref _traceCount) >= MaxTracesInMemory) break;
            Interlocked.Increment(ref _traceCount);
            _traces.Enqueue(new SpooledTrace(new SpoolPosition(segment, batchStart + offset), context));
        }
        _batchTraces.Clear();
    }

    private void OpenNewSegment()
    {
        var segment = new Segment(_nextSegmentNumber++);
        _liveStream = _folder.CreateSegment(segment.Number);
        lock (_gate) _segments.Add(segment);
        _live = segment;
    }

    private void SealLive()
    {
        _liveStream?.Dispose();
        _liveStream = null;
        lock (_gate)
        {
            _live!.Sealed = true;
            DeleteSettledSegments();
        }
        _live = null;
        _appended.Writer.TryWrite(true);
    }

    // After a failed write the file may hold part of the batch beyond the committed length. Cut it off if
    // possible and stop appending to that file either way: the pump reads this run's segments only up to
    // their committed length, and a later run finds any leftover by its checks.
    private void AbandonLive()
    {
        if (_live is null) return;
        try
        {
            _liveStream?.SetLength(_live.Committed);
        }
        catch (IOException)
        {
            // Best effort, see above.
        }
        try
        {
            _liveStream?.Dispose();
        }
        catch (IOException)
        {
            // The handle is gone either way.
        }
        _liveStream = null;
        lock (_gate) _live.Sealed = true;
        _live = null;
    }

    // ---- pump ----

    private async Task PumpAsync()
    {
        var token = _stopping.Token;
        var failures = 0;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var retryNow = Volatile.Read(ref _retryNow).Task;
                try
                {
                    var batch = ReadBatch();
                    if (batch is null)
                    {
                        await _appended.Reader.WaitToReadAsync(token).ConfigureAwait(false);
                        _appended.Reader.TryRead(out _);
                        continue;
                    }
                    await DeliverAsync(batch, token).ConfigureAwait(false);
                    failures = 0;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    // A disk error reading the spool, or a bug: the pump must outlive it, or spooled events
                    // would wait for the next run. It starts again from the last settled position.
                    var delay = SpoolBackoff.Delay(failures++, null, Random.Shared.NextDouble());
                    SpoolLog.PumpFailed(_logger, delay, ex);
                    await BackoffAsync(delay, retryNow, token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed: what is left stays on disk for the next run.
        }
    }

    // The next batch after _read, or null when everything committed so far is settled.
    private SpoolBatch? ReadBatch()
    {
        while (true)
        {
            long number, committed;
            bool sealedSegment;
            lock (_gate)
            {
                var segment = _segments.Find(s => s.Number >= _read.Segment);
                if (segment is null) return null;
                (number, committed, sealedSegment) = (segment.Number, segment.Committed, segment.Sealed);
            }
            if (number != _read.Segment)
            {
                _read = new SpoolPosition(number, 0);
                _ackedAhead.Clear();
            }
            if (_read.Offset >= committed)
            {
                if (!sealedSegment) return null;
                // A finished segment read to its end: settled, so it can go.
                Settle(new SpoolPosition(number, Math.Max(committed, _read.Offset)));
                _read = new SpoolPosition(number + 1, 0);
                _ackedAhead.Clear();
                continue;
            }
            try
            {
                return ReadRange(number, _read.Offset, committed);
            }
            catch (FileNotFoundException)
            {
                // Someone removed the file: its events are lost; count it like a damaged tail and go on.
                SpoolLog.SegmentLost(_logger, number, committed - _read.Offset);
                Abandon(number, committed, DropReason.SpoolCorrupt);
            }
            catch (SpoolEntryNotPlainException)
            {
                // Someone replaced the file with a link (or worse): nothing behind it is read, let alone sent.
                SpoolLog.SegmentNotPlain(_logger, number);
                Abandon(number, committed, DropReason.SpoolForged);
            }
        }
    }

    // Gives up a segment that can no longer be read, counting it once, and moves on to the next one.
    private void Abandon(long number, long committed, DropReason reason)
    {
        _counters.AddDropped(reason);
        lock (_gate)
        {
            if (_segments.RemoveAll(s => s.Number == number) > 0) Interlocked.Add(ref _bytesOnDisk, -committed);
        }
        Settle(new SpoolPosition(number, committed));
        _read = new SpoolPosition(number + 1, 0);
        _ackedAhead.Clear();
    }

    // Reads verified records from [start, limit) of a segment, up to the batch limits. A record whose
    // checksum or MAC fails is skipped and counted; a damaged header or a cut-short record ends what can be read
    // of the segment up to limit (counted once), since no length after it can be trusted. For the live
    // segment, limit is the committed length, where the writer's next batch starts on a record boundary.
    private SpoolBatch ReadRange(long segment, long start, long limit)
    {
        var events = new List<SpooledEvent>();
        long jsonBytes = 0;
        var position = start;
        var header = new byte[SpoolRecord.HeaderSize];
        using var stream = _folder.OpenSegment(segment);
        stream.Seek(start, SeekOrigin.Begin);
        while (position < limit && events.Count < MaxBatchEvents)
        {
            var remaining = limit - position;
            if (remaining < SpoolRecord.HeaderSize || stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            {
                position = SkipDamaged(segment, position, limit, "a record header is cut short");
                break;
            }
            if (!SpoolRecord.TryReadHeader(header, out var record))
            {
                position = SkipDamaged(segment, position, limit, "a record header is garbled");
                break;
            }
            if (record.RecordBytes > remaining)
            {
                position = SkipDamaged(segment, position, limit, "a record is cut short");
                break;
            }
            if (events.Count > 0 && jsonBytes + record.JsonBytes > MaxBatchJsonBytes) break;

            var bytes = new byte[record.RecordBytes];
            header.CopyTo(bytes, 0);
            var rest = bytes.AsSpan(SpoolRecord.HeaderSize);
            if (stream.ReadAtLeast(rest, rest.Length, throwOnEndOfStream: false) < rest.Length)
            {
                position = SkipDamaged(segment, position, limit, "a record is cut short");
                break;
            }
            var at = position;
            position += record.RecordBytes;
            if (!SpoolRecord.PayloadIntact(record, bytes))
            {
                _counters.AddDropped(DropReason.SpoolCorrupt);
                SpoolLog.CorruptRecord(_logger, segment, at);
                continue;
            }
            if (!SpoolRecord.Authentic(bytes, _key))
            {
                _counters.AddDropped(DropReason.SpoolForged);
                SpoolLog.ForgedRecord(_logger, segment, at);
                continue;
            }
            if (_ackedAhead.Contains(at)) continue;
            var evt = SpoolRecord.Decode(record, bytes);
            if (TakeTrace(new SpoolPosition(segment, at)) is { } context) evt = evt with { TraceContext = context };
            events.Add(new SpooledEvent(at, evt));
            jsonBytes += record.JsonBytes;
        }
        return new SpoolBatch(segment, start, position, events);
    }

    // The trace context remembered for the record at position, if any. Contexts of records before it that
    // were never picked up (skipped as corrupt or already acknowledged) are let go on the way.
    private ActivityContext? TakeTrace(SpoolPosition position)
    {
        while (_traces.TryPeek(out var head))
        {
            var order = head.Position.Order(position);
            if (order > 0) return null;
            _traces.TryDequeue(out _);
            Interlocked.Decrement(ref _traceCount);
            if (order == 0) return head.Context;
        }
        return null;
    }

    private long SkipDamaged(long segment, long position, long limit, string reason)
    {
        _counters.AddDropped(DropReason.SpoolCorrupt);
        SpoolLog.DamagedTail(_logger, limit - position, segment, position, reason);
        return limit;
    }

    // Offers the batch to the inner transport until every event is settled; after a partial delivery
    // only the undelivered ones are offered again.
    private async Task DeliverAsync(SpoolBatch batch, CancellationToken token)
    {
        var pending = batch.Events;
        var failures = 0;
        while (pending.Count > 0)
        {
            if (failures > 0) _counters.AddRetried(pending.Count);
            // Taken before the try, so a drain that starts while it runs cuts the backoff after it.
            var retryNow = Volatile.Read(ref _retryNow).Task;
            try
            {
                var result = await _inner.SendAsync(pending.ConvertAll(e => e.Event), token).ConfigureAwait(false);
                _counters.AddSent(result.Delivered + result.Spooled);
                _counters.AddRejected(result.Rejected);
                break;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                var undelivered = Undelivered(ex, pending.Count);
                if (undelivered.Count < pending.Count)
                {
                    _counters.AddSent(pending.Count - undelivered.Count);
                    var stillPending = new HashSet<int>(undelivered);
                    for (var i = 0; i < pending.Count; i++)
                    {
                        if (!stillPending.Contains(i)) _ackedAhead.Add(pending[i].Offset);
                    }
                    pending = undelivered.ConvertAll(i => pending[i]);
                    // Record the acknowledged ones now, so a restart before the rest go through skips them.
                    SaveCursor(new SpoolCursor(batch.Segment, batch.Start, AckedFrom(batch.Start)));
                    if (pending.Count == 0) break;
                }
                var transportError = ex as FeedbackTransportException;
                var delay = SpoolBackoff.Delay(failures++, transportError?.RetryAfter, Random.Shared.NextDouble());
                SpoolLog.DeliveryFailed(_logger, pending.Count, failures, transportError?.Retryable ?? true, delay, ex);
                await BackoffAsync(delay, retryNow, token).ConfigureAwait(false);
            }
        }

        _ackedAhead.RemoveWhere(offset => offset < batch.End);
        SaveCursor(new SpoolCursor(batch.Segment, batch.End, AckedFrom(batch.End)));
        _read = new SpoolPosition(batch.Segment, batch.End);
        Settle(_read);
    }

    // The positions still undelivered: those the transport named (valid and distinct), else all of them.
    private static List<int> Undelivered(Exception ex, int count) =>
        ex is FeedbackTransportException { Undelivered: { } named }
            ? named.Where(i => i >= 0 && i < count).Distinct().Order().ToList()
            : Enumerable.Range(0, count).ToList();

    private long[] AckedFrom(long offset) => _ackedAhead.Where(o => o >= offset).Order().ToArray();

    // Waits out a backoff on the injected clock, or less when a drain asks for one more try at once.
    private async Task BackoffAsync(TimeSpan delay, Task retryNow, CancellationToken token)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
        var timer = Task.Delay(delay, _time, wait.Token);
        await Task.WhenAny(timer, retryNow).ConfigureAwait(false);
        await wait.CancelAsync().ConfigureAwait(false);
        token.ThrowIfCancellationRequested();
    }

    private void SaveCursor(SpoolCursor cursor)
    {
        lock (_cursorGate)
        {
            if (Volatile.Read(ref _closed)) return;
            try
            {
                _folder.WriteCursor(cursor, _key);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Delivery did happen; only a restart could repeat it, which downstream deduplication absorbs.
                SpoolLog.CursorWriteFailed(_logger, ex);
            }
        }
    }

    private void Settle(SpoolPosition position)
    {
        lock (_gate)
        {
            _settled = position;
            DeleteSettledSegments();
        }
        Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();
    }

    // Under _gate. Only sealed segments go: the writer may still append to the live one.
    private void DeleteSettledSegments()
    {
        if (_closed) return;
        for (var i = _segments.Count - 1; i >= 0; i--)
        {
            var segment = _segments[i];
            var settled = segment.Number < _settled.Segment || (segment.Number == _settled.Segment && segment.Committed <= _settled.Offset);
            if (!segment.Sealed || !settled) continue;
            TryDelete(segment.Number);
            _segments.RemoveAt(i);
            Interlocked.Add(ref _bytesOnDisk, -segment.Committed);
        }
    }

    private void TryDelete(long number)
    {
        try
        {
            _folder.DeleteSegment(number);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left behind; a later run deletes it once the cursor has passed it.
            SpoolLog.DeleteFailed(_logger, number, ex);
        }
    }

    private bool IsDrained()
    {
        lock (_gate)
        {
            foreach (var segment in _segments)
            {
                if (segment.Number > _settled.Segment && segment.Committed > 0) return false;
                if (segment.Number == _settled.Segment && segment.Committed > _settled.Offset) return false;
            }
            return true;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A segment file: its number, the bytes known to be whole records on disk, and whether the writer is done with it.</summary>
    private sealed class Segment(long number)
    {
        public long Number { get; } = number;

        public long Committed { get; set; }

        public bool Sealed { get; set; }
    }

    private sealed record SpoolBatch(long Segment, long Start, long End, List<SpooledEvent> Events);

    private readonly record struct SpooledEvent(long Offset, SerializedEvent Event);

    private readonly record struct SpooledTrace(SpoolPosition Position, ActivityContext Context);
}

/// <summary>A place in the spool: a segment number and a byte offset in it, ordered as the records are.</summary>
internal readonly record struct SpoolPosition(long Segment, long Offset)
{
    /// <summary>Negative when this lies before <paramref name="other"/>, zero when it is the same place.</summary>
    public int Order(SpoolPosition other) => Segment != other.Segment ? Segment.CompareTo(other.Segment) : Offset.CompareTo(other.Offset);
}
