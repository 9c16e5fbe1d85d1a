using System.Buffers;
using System.Threading.Channels;
using FeedbackLoop.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.Sdk;

/// <summary>
/// What an app embeds to report what users did with model outputs. Every call only stamps the event and
/// puts it in a bounded queue: it never blocks, never throws for delivery problems, and drops (and
/// counts) events when the queue is full. A background sender serializes batches and hands them to the
/// transport.
/// </summary>
public sealed partial class FeedbackClient : IAsyncDisposable
{
    private readonly FeedbackClientOptions _options;
    private readonly IFeedbackTransport _transport;
    private readonly ILogger _logger;
    private readonly Channel<FeedbackEvent> _queue;
    private readonly Task _sender;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _progress = NewSignal();
    private int _disposed;
    private long _queuedCount;

    /// <summary>Creates a client sending through <paramref name="transport"/>, which it owns from now on.</summary>
    public FeedbackClient(FeedbackClientOptions options, IFeedbackTransport transport, ILogger<FeedbackClient>? logger = null)
    {
        options.Validate();
        _options = options;
        _transport = transport;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<FeedbackEvent>(new BoundedChannelOptions(options.MaxQueueLength)
        {
            // Wait mode makes TryWrite return false when full, so the caller's thread learns it without waiting.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        Counters.ObserveQueue(() => Interlocked.Read(ref _queuedCount), () => _queue.Reader.Count);
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>What happened to the events given to this client.</summary>
    public FeedbackClientCounters Counters { get; } = new();

    /// <summary>The app id stamped on every event.</summary>
    public string AppId => _options.AppId;

    /// <summary>Reports that a model output was shown; returns its generation id (new UUIDv7 unless given).</summary>
    public string Shown(
        string sessionId, string userId, string modelVersion, IReadOnlyList<ChatMessage> input, string output,
        string? generationId = null, string? variant = null, string? candidateSetId = null, int? position = null,
        string? promptVersion = null, long? latencyMs = null)
    {
        generationId ??= NewId();
        Track(sessionId, userId, new GenerationShown(generationId, modelVersion, input, output, promptVersion, variant, candidateSetId, position, latencyMs));
        return generationId;
    }

    /// <summary>Thumb up or down; the latest per (generation, user) counts.</summary>
    public bool Thumb(string sessionId, string userId, string generationId, ThumbValue value) =>
        Track(sessionId, userId, new ThumbGiven(generationId, value));

    /// <summary>A 1–5 rating.</summary>
    public bool Rating(string sessionId, string userId, string generationId, int score) =>
        Track(sessionId, userId, new RatingGiven(generationId, score));

    /// <summary>The user asked for another output instead of <paramref name="generationId"/>.</summary>
    public bool Regenerated(string sessionId, string userId, string generationId, string replacementGenerationId) =>
        Track(sessionId, userId, new GenerationRegenerated(generationId, replacementGenerationId));

    /// <summary>The user edited the output into <paramref name="editedOutput"/>.</summary>
    public bool Edited(string sessionId, string userId, string generationId, string editedOutput) =>
        Track(sessionId, userId, new GenerationEdited(generationId, editedOutput));

    /// <summary>The user copied the output.</summary>
    public bool Copied(string sessionId, string userId, string generationId) =>
        Track(sessionId, userId, new GenerationCopied(generationId));

    /// <summary>A suggestion was accepted.</summary>
    public bool Accepted(string sessionId, string userId, string generationId) =>
        Track(sessionId, userId, new GenerationAccepted(generationId));

    /// <summary>A suggestion was dismissed.</summary>
    public bool Rejected(string sessionId, string userId, string generationId) =>
        Track(sessionId, userId, new GenerationRejected(generationId));

    /// <summary>The user chose <paramref name="chosenGenerationId"/> among the candidates shown side by side.</summary>
    public bool ComparisonChosen(string sessionId, string userId, string candidateSetId, string chosenGenerationId) =>
        Track(sessionId, userId, new ComparisonChosen(candidateSetId, chosenGenerationId));

    /// <summary>The output was visible for <paramref name="visibleMs"/> milliseconds.</summary>
    public bool Dwell(string sessionId, string userId, string generationId, long visibleMs) =>
        Track(sessionId, userId, new GenerationDwell(generationId, visibleMs));

    /// <summary>The session is over; the pipeline resolves it now rather than after 30 minutes.</summary>
    public bool SessionEnded(string sessionId, string userId) =>
        Track(sessionId, userId, Contracts.SessionEnded.Instance);

    /// <summary>Queues an event with a new event id and the current time. False when it was dropped.</summary>
    public bool Track(string sessionId, string userId, EventData data) =>
        Track(new FeedbackEvent(NewId(), _options.AppId, sessionId, userId, _options.TimeProvider.GetUtcNow(), data));

    /// <summary>Queues a complete event. False when it was dropped (queue full, or the client is shut down).</summary>
    public bool Track(FeedbackEvent evt)
    {
        if (_queue.Writer.TryWrite(evt))
        {
            Interlocked.Increment(ref _queuedCount);
            return true;
        }
        Counters.AddDropped(DropReason.QueueFull);
        return false;
    }

    /// <summary>
    /// Waits until every event queued before the call was delivered, failed or dropped, or the timeout
    /// passed. True only when all of them were settled and no delivery failed meanwhile.
    /// </summary>
    public async Task<bool> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var target = Interlocked.Read(ref _queuedCount);
        var failedBefore = Counters.Failed + Counters.DroppedOversized;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (Settled() < target)
        {
            var signal = Volatile.Read(ref _progress).Task;
            if (Settled() >= target) break;
            try
            {
                await signal.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }
        return Settled() >= target && Counters.Failed + Counters.DroppedOversized == failedBefore;
    }

    /// <summary>Stops taking events, delivers what is queued within <see cref="FeedbackClientOptions.ShutdownTimeout"/>, and releases the transport.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _queue.Writer.TryComplete();
        try
        {
            await _sender.WaitAsync(_options.ShutdownTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogShutdownTimedOut(_logger, Interlocked.Read(ref _queuedCount) - Settled());
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private long Settled() => Counters.Sent + Counters.Spooled + Counters.Rejected + Counters.Failed + Counters.DroppedOversized;

    private async Task SendLoopAsync()
    {
        var batch = new List<SerializedEvent>(_options.MaxBatchSize);
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var evt))
                {
                    buffer.ResetWrittenCount();
                    EventJson.Write(buffer, evt);
                    if (buffer.WrittenCount > EventLimits.MaxEventBytes)
                    {
                        Counters.AddDropped(DropReason.Oversized);
                        LogOversized(_logger, evt.Type, buffer.WrittenCount);
                        continue;
                    }
                    batch.Add(new SerializedEvent(evt.EventId, evt.SessionId, buffer.WrittenSpan.ToArray()));
                }
                if (batch.Count > 0) await SendAsync(batch).ConfigureAwait(false);
                Signal();
            }
        }
        catch (Exception ex)
        {
            // Nothing may escape into the host; v0 logs and stops sending (the supervised restart is issue 4's).
            LogSenderFailed(_logger, ex);
        }
        finally
        {
            Signal();
        }
    }

    private async Task SendAsync(List<SerializedEvent> batch)
    {
        try
        {
            var result = await _transport.SendAsync(batch, _stopping.Token).ConfigureAwait(false);
            Counters.AddSent(result.Delivered);
            Counters.AddSpooled(result.Spooled);
            Counters.AddRejected(result.Rejected);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Counters.AddFailed(batch.Count);
            LogBatchFailed(_logger, batch.Count, ex.GetType().Name, ex.Message);
        }
    }

    private void Signal() => Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string NewId() => Guid.CreateVersion7().ToString();

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: a batch of {Count} events was not delivered ({ErrorType}: {Error})")]
    private static partial void LogBatchFailed(ILogger logger, int count, string errorType, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: dropped a {Type} event of {Bytes} bytes (limit 32768)")]
    private static partial void LogOversized(ILogger logger, string type, int bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop: the background sender stopped")]
    private static partial void LogSenderFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: shutdown timed out with {Pending} events undelivered")]
    private static partial void LogShutdownTimedOut(ILogger logger, long pending);
}
