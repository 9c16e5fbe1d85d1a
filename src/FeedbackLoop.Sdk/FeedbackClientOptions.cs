using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Sampling;

namespace FeedbackLoop.Sdk;

/// <summary>Settings of a <see cref="FeedbackClient"/>, with the defaults apps normally keep.</summary>
public sealed record FeedbackClientOptions
{
    /// <summary>Default for <see cref="MaxQueueLength"/>.</summary>
    public const int DefaultMaxQueueLength = 10_000;
    /// <summary>Default for <see cref="MaxQueueBytes"/>: 32 MiB.</summary>
    public const long DefaultMaxQueueBytes = 32L << 20;
    /// <summary>Default for <see cref="MaxBatchSize"/>.</summary>
    public const int DefaultMaxBatchSize = 500;

    /// <summary>The app (tenant) id: see <see cref="AppIds.Rule"/>.</summary>
    public required string AppId { get; init; }

    /// <summary>Events waiting to be sent; when full, new events are dropped and counted (never blocks).</summary>
    public int MaxQueueLength { get; init; } = DefaultMaxQueueLength;

    /// <summary>Estimated bytes of the events waiting to be sent (their strings); when full, new events are dropped and counted.</summary>
    public long MaxQueueBytes { get; init; } = DefaultMaxQueueBytes;

    /// <summary>Events handed to the transport at once. The sender also sends as soon as this many are waiting.</summary>
    public int MaxBatchSize { get; init; } = DefaultMaxBatchSize;

    /// <summary>How long an event may wait for its batch to fill before it is sent anyway.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="FeedbackClient.DisposeAsync"/> waits for queued events to be delivered or spooled.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A <c>generation.shown</c> whose conversation makes it larger than the contract's 32 KiB is shortened (the system
    /// prompt and the last turn kept, the middle cut and marked; docs/adr/0029) and counted as
    /// <see cref="FeedbackClientCounters.Truncated"/>. True by default; false drops such events as oversized.
    /// </summary>
    public bool TruncateLargeInput { get; init; } = true;

    /// <summary>Retry of transient delivery faults; null turns retries off.</summary>
    public RetryOptions? Retry { get; init; } = new();

    /// <summary>The opt-in disk spool; null (the default) keeps events in memory only.</summary>
    public SpoolOptions? Spool { get; init; }

    /// <summary>
    /// Redaction of <c>input</c>, <c>output</c> and <c>edited_output</c> before anything is serialized, spooled or
    /// sent. On by default with <see cref="Redactor.Defaults"/>; an empty list turns it off.
    /// </summary>
    public IReadOnlyList<Redactor> Redactors { get; init; } = Redactor.Defaults;

    /// <summary>Replaces every <c>user_id</c> with its pseudonym before it is serialized; null (default) sends ids as given.</summary>
    public UserIdHasher? UserIdHasher { get; init; }

    /// <summary>Which sessions are kept, per event type; null (default) keeps everything.</summary>
    public SessionSampler? Sampling { get; init; }

    /// <summary>The meter factory the <c>FeedbackLoop.Sdk</c> meter comes from (dependency injection passes the host's); null creates a plain meter.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>The clock that stamps <c>occurred_at</c> and paces retries; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws the first of <see cref="Problems"/>.</summary>
    internal void Validate()
    {
        foreach (var problem in Problems()) throw problem;
    }

    /// <summary>Every problem of these options, each an exception naming its option (not thrown: dependency injection reports them all).</summary>
    internal IEnumerable<ArgumentException> Problems()
    {
        if (string.IsNullOrWhiteSpace(AppId)) yield return new ArgumentException("missing", nameof(AppId));
        else if (!AppIds.IsValid(AppId)) yield return new ArgumentException("must be " + AppIds.Rule, nameof(AppId));
        if (MaxQueueLength < 1) yield return new ArgumentOutOfRangeException(nameof(MaxQueueLength), MaxQueueLength, "must be at least 1");
        if (MaxQueueBytes < 1024) yield return new ArgumentOutOfRangeException(nameof(MaxQueueBytes), MaxQueueBytes, "must be at least 1024");
        if (MaxBatchSize < 1) yield return new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "must be at least 1");
        if (FlushInterval <= TimeSpan.Zero) yield return new ArgumentOutOfRangeException(nameof(FlushInterval), FlushInterval, "must be positive");
        if (ShutdownTimeout < TimeSpan.Zero) yield return new ArgumentOutOfRangeException(nameof(ShutdownTimeout), ShutdownTimeout, "must not be negative");
        foreach (var problem in Retry?.Problems() ?? []) yield return problem;
        foreach (var problem in Spool?.Problems() ?? []) yield return problem;
    }
}

/// <summary>
/// Retry of transient faults (timeouts, HTTP 408/429/5xx but 501/505, broker errors): exponential backoff
/// with full jitter, at least what the destination asked for in <c>Retry-After</c>, until the time budget
/// is spent. Permanent refusals (HTTP 413 and other 4xx) are never retried.
/// </summary>
public sealed record RetryOptions
{
    /// <summary>The first backoff; each further one doubles, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest single wait between tries.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one batch may be tried in total, tries and waits together, before it is given up on (or left in the
    /// spool); a try still running when the budget is spent is cut off. Zero: one try, under the transport's own timeout.
    /// </summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromMinutes(2);

    internal IEnumerable<ArgumentException> Problems()
    {
        if (InitialBackoff <= TimeSpan.Zero) yield return new ArgumentOutOfRangeException("Retry." + nameof(InitialBackoff), InitialBackoff, "must be positive");
        if (MaxBackoff < InitialBackoff) yield return new ArgumentOutOfRangeException("Retry." + nameof(MaxBackoff), MaxBackoff, "must be at least Retry.InitialBackoff");
        if (TimeBudget < TimeSpan.Zero) yield return new ArgumentOutOfRangeException("Retry." + nameof(TimeBudget), TimeBudget, "must not be negative");
    }
}

/// <summary>
/// The opt-in disk spool: every batch is written (checksummed, one fsync per batch) to a private folder
/// before it is sent, and sent from there, so events survive broker or network outages and app restarts.
/// </summary>
public sealed record SpoolOptions
{
    /// <summary>Default for <see cref="MaxBytes"/>: 256 MiB.</summary>
    public const long DefaultMaxBytes = 256L << 20;

    /// <summary>
    /// The spool folder. It must be given explicitly and be the app's own: not the shared temp folder, owned
    /// by the process's user and closed to others, under a parent only that user or root can change, with no
    /// links under the spool's file names (docs/SDK.md, "Spool folder rules"). A missing folder is created
    /// owner-only; one that breaks a rule is refused, not repaired.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>The most bytes the spool may hold; when full, new events are dropped and counted.</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>Size at which the spool starts a new segment file (delivered segments are deleted whole).</summary>
    public long SegmentBytes { get; init; } = 4L << 20;

    /// <summary>
    /// The secret (16+ characters) the spool keys its record MACs with, so it delivers only records it wrote.
    /// Unset (default): the spool generates a random key on first use and keeps it in the spool folder, owner-only.
    /// Set it (from a secret store) to keep the key out of the folder; records spooled under another key are
    /// then skipped and counted (<c>spool_forged</c>).
    /// </summary>
    public string? IntegrityKey { get; init; }

    /// <summary>Throws the first of <see cref="Problems"/>.</summary>
    internal void Validate()
    {
        foreach (var problem in Problems()) throw problem;
    }

    internal IEnumerable<ArgumentException> Problems()
    {
        if (string.IsNullOrWhiteSpace(Directory)) yield return new ArgumentException("missing: set it to a private folder", "Spool." + nameof(Directory));
        if (MaxBytes < 64 * 1024) yield return new ArgumentOutOfRangeException("Spool." + nameof(MaxBytes), MaxBytes, "must be at least 65536");
        if (SegmentBytes < 4096 || SegmentBytes > MaxBytes) yield return new ArgumentOutOfRangeException("Spool." + nameof(SegmentBytes), SegmentBytes, "must be between 4096 and Spool.MaxBytes");
        // The value is a secret: the message names the rule, never the value.
        if (IntegrityKey is { Length: < 16 }) yield return new ArgumentException("must be at least 16 characters when set", "Spool." + nameof(IntegrityKey));
    }
}
