namespace FeedbackLoop.Sdk.Queue;

/// <summary>
/// An auto-reset wake-up for one waiter (the sender). <see cref="Set"/> is cheap and safe from any thread
/// and is remembered until the next wait, so a wake-up between "found nothing" and "wait" is never lost.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource? _waiter;
    private int _set;

    public void Set()
    {
        Volatile.Write(ref _set, 1);
        Volatile.Read(ref _waiter)?.TrySetResult();
    }

    /// <summary>Waits for <see cref="Set"/> or the timeout; true when set. Cancellation ends the wait quietly (false).</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _set, 0) == 1) return true;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _waiter, waiter);
        try
        {
            if (Interlocked.Exchange(ref _set, 0) == 1) return true;
            await waiter.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _set, 0);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            Volatile.Write(ref _waiter, null);
        }
    }
}
