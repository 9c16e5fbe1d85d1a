namespace FeedbackLoop.Sdk;

/// <summary>What the client did with the events it was given; every event ends in exactly one of
/// sent, dropped or failed.</summary>
public sealed class FeedbackClientCounters
{
    private long _accepted;
    private long _droppedQueueFull;
    private long _droppedOversized;
    private long _sent;
    private long _failed;

    /// <summary>Events accepted into the queue.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Events dropped because the queue was full.</summary>
    public long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);
    /// <summary>Events dropped because they serialize to more than the 32 KiB limit.</summary>
    public long DroppedOversized => Interlocked.Read(ref _droppedOversized);
    /// <summary>Events the transport acknowledged.</summary>
    public long Sent => Interlocked.Read(ref _sent);
    /// <summary>Events the transport failed to deliver.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    internal void AddAccepted() => Interlocked.Increment(ref _accepted);
    internal void AddDroppedQueueFull() => Interlocked.Increment(ref _droppedQueueFull);
    internal void AddDroppedOversized() => Interlocked.Increment(ref _droppedOversized);
    internal void AddSent(int count) => Interlocked.Add(ref _sent, count);
    internal void AddFailed(int count) => Interlocked.Add(ref _failed, count);

    /// <summary>Events accepted and not yet settled (sent, failed or dropped as oversized).</summary>
    internal long InFlight => Accepted - Sent - Failed - DroppedOversized;
}
