namespace FeedbackLoop.Sdk;

/// <summary>How delivery to the destination is going, as the last batch's tries left it.</summary>
internal enum DeliveryState
{
    /// <summary>The last batch was delivered (or none was sent yet).</summary>
    Delivering,
    /// <summary>The last try failed and the batch is being retried, or the destination refused events for good.</summary>
    Retrying,
    /// <summary>A batch was given up on (its retry budget was spent, or retries are off); with a spool it waits on disk.</summary>
    GivingUp,
}

/// <summary>
/// The transport's state for the health check: written by the sender's decorators (<see cref="DeliveryHealthTransport"/>)
/// once per try, read by <c>FeedbackLoopHealthCheck</c>. Only names of error types and status codes are kept, never a
/// message, which could carry a URL, a key or user text.
/// </summary>
internal sealed class DeliveryHealth(TimeProvider time)
{
    private readonly Lock _gate = new();
    private DeliveryState _state;
    private DateTimeOffset _since = time.GetUtcNow();
    private string? _lastError;

    public (DeliveryState State, DateTimeOffset Since, string? LastError) Snapshot()
    {
        lock (_gate) return (_state, _since, _lastError);
    }

    public void Delivered() => Set(DeliveryState.Delivering, error: null);

    public void Refused(int count) => Set(DeliveryState.Retrying, $"{count} events refused for good");

    public void Failed(bool final, Exception error)
    {
        var status = (error as FeedbackTransportException)?.StatusCode is { } code ? $", status {code}" : "";
        // A refusal (not retryable) means the destination answered: a problem with some events, not with delivery.
        var refused = error is FeedbackTransportException { Retryable: false };
        Set(final && !refused ? DeliveryState.GivingUp : DeliveryState.Retrying, (error.InnerException ?? error).GetType().Name + status);
    }

    private void Set(DeliveryState state, string? error)
    {
        lock (_gate)
        {
            if (_state != state) _since = time.GetUtcNow();
            _state = state;
            _lastError = error ?? _lastError;
        }
    }
}

/// <summary>
/// Reports every try of the transport it wraps to <see cref="DeliveryHealth"/>. The pipeline puts one directly around the
/// app's transport (a failure there is retried: <paramref name="failureIsFinal"/> false, unless retries are off) and one
/// around the retries (a failure there is a give-up). A try cancelled by its caller (shutdown, or the retry budget cutting
/// it off) says nothing about the destination and is not reported.
/// </summary>
internal sealed class DeliveryHealthTransport(IFeedbackTransport inner, DeliveryHealth health, bool failureIsFinal) : IFeedbackTransport
{
    public async Task<SendResult> SendAsync(IReadOnlyList<SerializedEvent> batch, CancellationToken cancellationToken)
    {
        SendResult result;
        try
        {
            result = await inner.SendAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            health.Failed(failureIsFinal, ex);
            throw;
        }
        if (result.Rejected > 0) health.Refused(result.Rejected);
        else health.Delivered();
        return result;
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
