using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>
/// Retries an inner transport's transient faults (<see cref="RetryBackoff"/>) until the time budget is
/// spent, sending again only the events still undelivered. Permanent refusals are returned as rejected,
/// never retried. When it gives up it throws with the undelivered positions of the batch it was given.
/// </summary>
internal sealed partial class RetryingTransport(
    IFeedbackTransport inner, RetryOptions options, FeedbackClientCounters counters, TimeProvider time, ILogger logger) : IFeedbackTransport
{
    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var pending = batch;
        // Original batch position of each pending event; null while the whole batch is pending.
        int[]? origin = null;
        // Events delivered by earlier tries that failed part-way.
        var delivered = 0;
        for (var retry = 0; ; retry++)
        {
            Exception failure;
            try
            {
                var result = await inner.SendAsync(pending, cancellationToken).ConfigureAwait(false);
                return result with { Delivered = delivered + result.Delivered };
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failure = ex;
            }

            var transportFailure = failure as FeedbackTransportException;
            var undelivered = UndeliveredPositions(transportFailure?.Undelivered, pending.Count);
            var undeliveredCount = undelivered?.Length ?? pending.Count;
            delivered += pending.Count - undeliveredCount;
            if (transportFailure is { Retryable: false })
            {
                LogRefused(logger, undeliveredCount, failure.GetType().Name, transportFailure.StatusCode);
                return new SendResult(delivered, Rejected: undeliveredCount);
            }

            if (undelivered is not null)
            {
                var nextOrigin = new int[undelivered.Length];
                var nextPending = new SerializedEvent[undelivered.Length];
                for (var i = 0; i < undelivered.Length; i++)
                {
                    nextOrigin[i] = origin is null ? undelivered[i] : origin[undelivered[i]];
                    nextPending[i] = pending[undelivered[i]];
                }
                origin = nextOrigin;
                pending = nextPending;
            }
            if (pending.Count == 0) return new SendResult(delivered);

            var elapsed = time.GetElapsedTime(started);
            var delay = RetryBackoff.NextDelay(options, retry, transportFailure?.RetryAfter, elapsed, Random.Shared.NextDouble());
            if (delay is not { } wait)
            {
                LogGaveUp(logger, pending.Count, retry + 1, (long)elapsed.TotalMilliseconds, failure.GetType().Name, transportFailure?.StatusCode);
                throw new FeedbackTransportException(
                    $"Gave up after {retry + 1} tries in {elapsed.TotalSeconds:0.0} s: {failure.Message}",
                    retryable: true, transportFailure?.RetryAfter, transportFailure?.StatusCode,
                    // Null means the whole batch, as the caller gave it.
                    origin, failure);
            }

            LogRetrying(logger, retry + 1, pending.Count, failure.GetType().Name, transportFailure?.StatusCode, (long)wait.TotalMilliseconds);
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            counters.AddRetried(pending.Count);
        }
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    // The positions the inner transport says are undelivered, or null for all of them. A list that does not
    // fit the batch (out of range, repeated) is a bug of that transport; resending everything is then the
    // safe reading, since the pipeline drops duplicates by event_id but cannot recover a lost event.
    private static int[]? UndeliveredPositions(IReadOnlyList<int>? undelivered, int count)
    {
        if (undelivered is null) return null;
        var seen = new bool[count];
        foreach (var p in undelivered)
        {
            if (p < 0 || p >= count || seen[p]) return null;
            seen[p] = true;
        }
        return undelivered.Count == count ? null : [.. undelivered.Order()];
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "FeedbackLoop: try {Attempt} left {Count} events undelivered ({ErrorType}, status {StatusCode}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, int attempt, int count, string errorType, int? statusCode, long delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: gave up on {Count} events after {Tries} tries in {ElapsedMs} ms (last error {ErrorType}, status {StatusCode})")]
    private static partial void LogGaveUp(ILogger logger, int count, int tries, long elapsedMs, string errorType, int? statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop: {Count} events were refused for good ({ErrorType}, status {StatusCode}); they are not retried")]
    private static partial void LogRefused(ILogger logger, int count, string errorType, int? statusCode);
}
