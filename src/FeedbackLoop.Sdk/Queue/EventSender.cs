using System.Buffers;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Truncation;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Queue;

/// <summary>
/// The client's background sender: takes events from the ring, builds, redacts and serializes them, sends
/// them in batches, and settles each event in exactly one counter. It wakes when half a batch is waiting,
/// when a flush asks, or every flush interval. It is supervised: if anything escapes (a throwing logger, a
/// bug), the events in hand are counted as dropped, the failure is logged and the loop starts again after
/// a short backoff; it only ends at shutdown.
/// </summary>
internal sealed partial class EventSender : IDisposable
{
    private static readonly Backoff RestartBackoff = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));

    private readonly EventRing _ring;
    private readonly IFeedbackTransport _transport;
    private readonly FeedbackClientOptions _options;
    private readonly FeedbackClientCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<long> _releaseBytes;
    private readonly AsyncSignal _wake = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private TaskCompletionSource _progress = NewProgress();
    private long _settled;
    private long _lost;
    private long _finalTarget = -1;
    private int _inHand;

    // Bytes of the batch in hand: given back to the caller's budget once its send has ended, not when it leaves the
    // ring, so MaxQueueBytes bounds everything the client holds (ring and batch), and a hung transport fills the budget
    // instead of letting the ring refill behind it.
    private long _bytesInHand;

    public EventSender(EventRing ring, IFeedbackTransport transport, FeedbackClientOptions options, FeedbackClientCounters counters,
        ILogger logger, Action<long> releaseBytes)
    {
        _ring = ring;
        _transport = transport;
        _options = options;
        _counters = counters;
        _logger = logger;
        _releaseBytes = releaseBytes;
        _loop = Task.Run(SuperviseAsync);
    }

    /// <summary>Events taken from the ring that reached a final or durable state.</summary>
    public long Settled => Volatile.Read(ref _settled);

    public void Wake() => _wake.Set();

    public async Task<bool> FlushAsync(long target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var lostBefore = Volatile.Read(ref _lost);
        _wake.Set();
        var reached = await WaitSettledAsync(target, timeout, cancellationToken).ConfigureAwait(false);
        return reached && Volatile.Read(ref _lost) == lostBefore;
    }

    // How long a cancelled send always gets to end (and count its batch), even when the cancel came at the deadline.
    private static readonly TimeSpan MinimumAfterCancel = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Sends everything up to <paramref name="target"/>, then stops. True when all of it was delivered or spooled in time.
    /// When <paramref name="giveUpAfter"/> passes first, the send in progress is cancelled and may end until
    /// <paramref name="abandonAfter"/> (both counted from this call, so a late timer on a loaded machine does not add up);
    /// what was not delivered then is counted as dropped (<see cref="DropReason.ShutDown"/>) and logged once.
    /// </summary>
    public async Task<bool> StopAsync(long target, TimeSpan giveUpAfter, TimeSpan abandonAfter)
    {
        var started = _options.TimeProvider.GetTimestamp();
        var lostBefore = Volatile.Read(ref _lost);
        var shutDownBefore = _counters.Dropped(DropReason.ShutDown);
        Volatile.Write(ref _finalTarget, target);
        _wake.Set();
        var inTime = true;
        try
        {
            await _loop.WaitAsync(giveUpAfter, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            inTime = false;
            await _stopping.CancelAsync().ConfigureAwait(false);
            // A well-behaved transport ends at once when cancelled; a hung one is abandoned at abandonAfter.
            // At least a moment, however late the cancel came: a send that ends at once must get to count its batch.
            var left = abandonAfter - _options.TimeProvider.GetElapsedTime(started);
            await _loop.WaitAsync(left > MinimumAfterCancel ? left : MinimumAfterCancel, _options.TimeProvider)
                .ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
        // What the sender could not take in time is lost with the process: count it, so the books balance.
        // (Only once the loop has ended: the ring has a single consumer.)
        var unsent = 0L;
        while (_loop.IsCompleted && _ring.Taken < target && _ring.TryTake(out var left))
        {
            _releaseBytes(left.Bytes);
            if (left.Kind != PendingKind.Tombstone) unsent++;
            Interlocked.Increment(ref _settled);
        }
        if (unsent > 0) Lose(DropReason.ShutDown, unsent);
        // One line for the whole shutdown: the cancelled batch and what was still queued together.
        if (!inTime) TryLog(() => LogShutdownTimedOut(_logger, abandonAfter.TotalSeconds, _counters.Dropped(DropReason.ShutDown) - shutDownBefore));
        Signal();
        return inTime && Settled >= target && Volatile.Read(ref _lost) == lostBefore;
    }

    /// <summary>Releases the cancellation source once the loop has ended (after <see cref="StopAsync"/>).</summary>
    public void Dispose()
    {
        if (_loop.IsCompleted) _stopping.Dispose();
    }

    private async Task<bool> WaitSettledAsync(long target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (Settled < target)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (Settled >= target || _loop.IsCompleted) break;
            try
            {
                await progress.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }
        return Settled >= target;
    }

    private async Task SuperviseAsync()
    {
        for (var restarts = 0; ; restarts++)
        {
            var backoff = RestartBackoff.Delay(restarts);
            try
            {
                await PumpAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception ex)
            {
                _releaseBytes(Interlocked.Exchange(ref _bytesInHand, 0));
                var inHand = Interlocked.Exchange(ref _inHand, 0);
                if (inHand > 0)
                {
                    Lose(DropReason.SenderError, inHand);
                    Interlocked.Add(ref _settled, inHand);
                }
                _counters.AddSenderRestart();
                Signal();
                TryLog(() => LogSenderRestarting(_logger, backoff.TotalMilliseconds, ex));
            }
            if (_stopping.IsCancellationRequested) return;
            try
            {
                await Task.Delay(backoff, _options.TimeProvider, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PumpAsync()
    {
        var batch = new List<SerializedEvent>(Math.Min(_options.MaxBatchSize, 1024));
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            var took = TakeBatch(batch, buffer);
            if (batch.Count > 0) await SendAsync(batch).ConfigureAwait(false);
            _releaseBytes(Interlocked.Exchange(ref _bytesInHand, 0)); // a batch of only tombstones or unserializable events sends nothing
            if (took > 0) Signal();
            if (took == _options.MaxBatchSize) continue; // more may be waiting

            var final = Volatile.Read(ref _finalTarget);
            if (final >= 0)
            {
                if (_ring.Taken >= final || _stopping.IsCancellationRequested) return;
                // A producer claimed a slot before the close and is still writing it: give it a moment.
                await Task.Yield();
                continue;
            }
            await _wake.WaitAsync(_options.FlushInterval, _options.TimeProvider, _stopping.Token).ConfigureAwait(false);
            if (_stopping.IsCancellationRequested) return;
        }
    }

    /// <summary>Takes up to a batch from the ring and serializes it; returns how many slots were taken.</summary>
    private int TakeBatch(List<SerializedEvent> batch, ArrayBufferWriter<byte> buffer)
    {
        batch.Clear();
        var took = 0;
        long bytes = 0;
        while (took < _options.MaxBatchSize && _ring.TryTake(out var item))
        {
            took++;
            bytes += item.Bytes;
            if (item.Kind == PendingKind.Tombstone)
            {
                Interlocked.Increment(ref _settled); // already counted as dropped for bytes by the caller
                continue;
            }
            Interlocked.Increment(ref _inHand);
            var serialized = Serialize(in item, buffer);
            if (serialized is not null)
            {
                batch.Add(serialized);
            }
            else
            {
                Interlocked.Decrement(ref _inHand);
                Interlocked.Increment(ref _settled);
            }
        }
        Interlocked.Add(ref _bytesInHand, bytes);
        return took;
    }

    /// <summary>Builds, redacts and serializes one event; null (dropped and counted) when that fails or it is over 32 KiB.</summary>
    private SerializedEvent? Serialize(in PendingEvent item, ArrayBufferWriter<byte> buffer)
    {
        if (item.BadArgument() is { } bad)
        {
            Lose(DropReason.Invalid, 1);
            var (argument, problem) = bad;
            var type = argument is "evt" or "data" ? "(unknown)" : item.Type;
            TryLog(() => LogInvalid(_logger, type, argument, problem));
            return null;
        }
        FeedbackEvent evt;
        try
        {
            evt = EventPrivacy.Apply(item.ToEvent(_options.AppId), _options.Redactors, _options.UserIdHasher);
            buffer.ResetWrittenCount();
            EventJson.Write(buffer, evt);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A throwing custom redactor or an invalid argument (say a null id) costs this event, not the sender.
            Lose(DropReason.SenderError, 1);
            var (type, error) = (item.Type, ex.GetType().Name);
            TryLog(() => LogEventFailed(_logger, type, error));
            return null;
        }
        if (buffer.WrittenCount > EventLimits.MaxEventBytes)
        {
            var size = buffer.WrittenCount;
            if (!_options.TruncateLargeInput || evt.Data is not GenerationShown shown || !TryTruncate(ref evt, shown, buffer))
            {
                Lose(DropReason.Oversized, 1);
                var type = evt.Type;
                TryLog(() => LogOversized(_logger, type, size, EventLimits.MaxEventBytes));
                return null;
            }
            _counters.AddTruncated();
            TryLog(() => LogTruncated(_logger, size, buffer.WrittenCount));
        }
        // The same check the pipeline runs, so a mistake shows up in the app's own log and counters (with the
        // field at fault) instead of as a dead letter far away. It costs the sender a parse, not the caller.
        if (!EventJson.TryParse(buffer.WrittenSpan, out _, out var rejection))
        {
            Lose(DropReason.Invalid, 1);
            var (type, field, reason) = (evt.Type, rejection!.Field, rejection.Reason);
            TryLog(() => LogInvalid(_logger, type, field, reason));
            return null;
        }
        return new SerializedEvent(evt.EventId, evt.SessionId, buffer.WrittenSpan.ToArray()) { TraceContext = item.TraceContext };
    }

    /// <summary>
    /// Shortens the conversation of an oversized <c>generation.shown</c> by the truncation policy (docs/adr/0029) until
    /// it serializes within the limit; <paramref name="buffer"/> then holds the shortened event. False when the policy
    /// cannot make it fit (the output alone is too long, say).
    /// </summary>
    private static bool TryTruncate(ref FeedbackEvent evt, GenerationShown shown, ArrayBufferWriter<byte> buffer)
    {
        // The policy counts characters; JSON escapes can make the bytes longer, so ask again for the rest (rarely needed).
        long toRemove = buffer.WrittenCount - EventLimits.MaxEventBytes;
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (ConversationTruncation.Cut(shown.Input, toRemove) is not { } cut) return false;
            var candidate = evt with { Data = shown with { Input = cut.Input } };
            buffer.ResetWrittenCount();
            EventJson.Write(buffer, candidate);
            if (buffer.WrittenCount <= EventLimits.MaxEventBytes)
            {
                evt = candidate;
                return true;
            }
            toRemove += buffer.WrittenCount - EventLimits.MaxEventBytes;
        }
        return false;
    }

    private async Task SendAsync(List<SerializedEvent> batch)
    {
        var count = batch.Count;
        try
        {
            var result = await _transport.SendAsync(batch, _stopping.Token).ConfigureAwait(false);
            _counters.AddSent(result.Delivered);
            _counters.AddSpooled(result.Spooled);
            _counters.AddRejected(result.Rejected);
            // Events missing from the result were dropped by a decorator (the spool at its cap), which counted them.
            var notKept = count - result.Delivered - result.Spooled;
            if (notKept > 0) Interlocked.Add(ref _lost, notKept);
        }
        catch (FeedbackTransportException ex) when (ex.Undelivered is { } undelivered && undelivered.Count < count)
        {
            _counters.AddSent(count - undelivered.Count);
            Fail(undelivered.Count, ex);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            Lose(DropReason.ShutDown, count);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(count, ex);
        }
        finally
        {
            // The budget first: a caller that waits for the batch to settle (FlushAsync) finds its bytes free.
            _releaseBytes(Interlocked.Exchange(ref _bytesInHand, 0));
            Interlocked.Exchange(ref _inHand, 0);
            Interlocked.Add(ref _settled, count);
        }
    }

    private void Fail(int count, Exception ex)
    {
        _counters.AddFailed(count);
        Interlocked.Add(ref _lost, count);
        LogBatchFailed(_logger, count, ex.GetType().Name, ex.Message);
    }

    private void Lose(DropReason reason, long count)
    {
        _counters.AddDropped(reason, count);
        Interlocked.Add(ref _lost, count);
    }

    private void Signal() => Interlocked.Exchange(ref _progress, NewProgress()).TrySetResult();

    private static TaskCompletionSource NewProgress() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Logging must never be what stops the sender a second time.</summary>
    private static void TryLog(Action log)
    {
        try
        {
            log();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nothing left to tell: the logger itself is failing.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: a batch of {Count} events was not delivered ({ErrorType}: {Error})")]
    private static partial void LogBatchFailed(ILogger logger, int count, string errorType, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: dropped a {Type} event of {Bytes} bytes (limit {Limit})")]
    private static partial void LogOversized(ILogger logger, string type, int bytes, int limit);

    [LoggerMessage(Level = LogLevel.Debug, Message = "FeedbackLoop: shortened the conversation of a generation.shown event of {Bytes} bytes to {TruncatedBytes} bytes")]
    private static partial void LogTruncated(ILogger logger, int bytes, int truncatedBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: dropped a {Type} event that could not be built ({ErrorType})")]
    private static partial void LogEventFailed(ILogger logger, string type, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: dropped a {Type} event that breaks the contract: {Field} {Reason}")]
    private static partial void LogInvalid(ILogger logger, string type, string field, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop: the background sender failed; restarting in {BackoffMs} ms")]
    private static partial void LogSenderRestarting(ILogger logger, double backoffMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: shutdown timed out after {TimeoutSeconds} s; {Dropped} events not delivered by then are counted as dropped (shut_down)")]
    private static partial void LogShutdownTimedOut(ILogger logger, double timeoutSeconds, long dropped);
}
