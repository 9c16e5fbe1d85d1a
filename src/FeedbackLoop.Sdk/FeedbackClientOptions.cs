namespace FeedbackLoop.Sdk;

/// <summary>Settings of a <see cref="FeedbackClient"/>, with the defaults apps normally keep.</summary>
public sealed record FeedbackClientOptions
{
    /// <summary>Default for <see cref="MaxQueueLength"/>.</summary>
    public const int DefaultMaxQueueLength = 10_000;
    /// <summary>Default for <see cref="MaxBatchSize"/>.</summary>
    public const int DefaultMaxBatchSize = 500;

    /// <summary>The app (tenant) id: 1–64 chars of <c>[a-z0-9._-]</c>.</summary>
    public required string AppId { get; init; }

    /// <summary>Events waiting to be sent; when full, new events are dropped and counted (never blocks).</summary>
    public int MaxQueueLength { get; init; } = DefaultMaxQueueLength;

    /// <summary>Events handed to the transport at once.</summary>
    public int MaxBatchSize { get; init; } = DefaultMaxBatchSize;

    /// <summary>How long <see cref="FeedbackClient.DisposeAsync"/> waits for queued events to be delivered.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock that stamps <c>occurred_at</c>; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        if (string.IsNullOrEmpty(AppId) || AppId.Length > 64 || !AppId.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-'))
            throw new ArgumentException("AppId must be 1-64 characters of a-z, 0-9, '.', '_' or '-'.", nameof(AppId));
        if (MaxQueueLength < 1) throw new ArgumentOutOfRangeException(nameof(MaxQueueLength), MaxQueueLength, "must be at least 1");
        if (MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "must be at least 1");
    }
}
