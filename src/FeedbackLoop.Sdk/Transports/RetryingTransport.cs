using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>
/// Retries an inner transport's transient faults (<see cref="RetryBackoff"/>) until the time budget is
/// spent, sending again only the events still undelivered. Permanent refusals are returned as rejected,
/// never retried. When it gives up it throws with the undelivered positions of the batch it was given.
/// No try runs past the budget: one still running when it is spent is cut off, because a transport's own timeout
/// (librdkafka's delivery timeout, an HTTP request timeout) restarts with every try, and a retry begun just before
/// the budget ends would otherwise give up a whole timeout late. A record cut off inside librdkafka may still reach
/// the broker later; the pipeline drops such a duplicate by its event id.
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
        Exception? previous = null;
        for (var retry = 0; ; retry++)
        {
            Exception failure;
            // Every try ends where the budget does (a zero budget: one try under the transport's own timeout).
            using var deadline = options.TimeBudget <= TimeSpan.Zero
                ? null
                : new BudgetDeadline(options.TimeBudget - time.GetElapsedTime(started), time, cancellationToken);
            try
            {
                var result = await inner.SendAsync(pending, deadline?.Token ?? cancellationToken).ConfigureAwait(false);
                return result with { Delivered = delivered + result.Delivered };
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException) when (deadline is { Spent: true })
            {
                // Cut off by the budget, not refused: the last answer the destination gave is the one to report.
                failure = previous ?? new TimeoutException($"No answer within the {options.TimeBudget.TotalSeconds:0.###} s time budget");
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failure = ex;
            }
            previous = failure;

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
            var delay = deadline is { Spent: true } ? null : RetryBackoff.NextDelay(options, retry, transportFailure?.RetryAfter, elapsed, Random.Shared.NextDouble());
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

    // Cancels at the end of the budget (on the same clock as the retry decision) or with the caller.
    private sealed class BudgetDeadline : IDisposable
    {
        private readonly CancellationTokenSource _budget;
        private readonly CancellationTokenSource _linked;

        public BudgetDeadline(TimeSpan left, TimeProvider time, CancellationToken cancellationToken)
        {
            _budget = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _budget.Token);
        }

        public CancellationToken Token => _linked.Token;

        public bool Spent => _budget.IsCancellationRequested;

        public void Dispose()
        {
            _linked.Dispose();
            _budget.Dispose();
        }
    }

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
