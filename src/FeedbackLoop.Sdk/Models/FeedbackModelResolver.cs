using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace FeedbackLoop.Sdk.Models;

/// <summary>Settings of <see cref="FeedbackModelResolver"/>; each default is documented in docs/SDK.md.</summary>
public sealed class ModelResolverOptions
{
    /// <summary>What a call gets before any answer came (the collector not reached yet, or down since the app started). Required.</summary>
    public required ModelChoice Fallback { get; init; }

    /// <summary>A session's answer is fetched again (with its ETag) when a call finds it older than this (30 s): a promotion or rollback reaches the session within it.</summary>
    public TimeSpan RefreshAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sessions whose answers are kept (10,000); past it the least recently fetched ones are forgotten and fetched again when seen.</summary>
    public int MaxSessions { get; init; } = 10_000;
}

/// <summary>What the resolver did (also the <c>feedbackloop.sdk.model.*</c> counters in docs/SDK.md).</summary>
public sealed class ModelResolverCounters
{
    private long _answers;
    private long _notModified;
    private long _failures;
    private long _standIns;

    /// <summary>New answers fetched (200).</summary>
    public long Answers => Interlocked.Read(ref _answers);

    /// <summary>Fetches answered 304: the held answer was current.</summary>
    public long NotModified => Interlocked.Read(ref _notModified);

    /// <summary>Fetches that failed (collector unreachable, timeout, refusal); the last answer kept serving.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Calls served a stand-in (the fallback, or the app's last answer) because the session had no answer yet.</summary>
    public long StandIns => Interlocked.Read(ref _standIns);

    internal void Answer() => Interlocked.Increment(ref _answers);

    internal void Unchanged() => Interlocked.Increment(ref _notModified);

    internal void Failure() => Interlocked.Increment(ref _failures);

    internal void StandIn() => Interlocked.Increment(ref _standIns);
}

/// <summary>
/// Which model to serve each session (issue 14, item 2). <see cref="Resolve"/> never waits on the network: it returns the
/// session's cached answer and, when that is older than <see cref="ModelResolverOptions.RefreshAfter"/>, fetches it
/// again in the background with its ETag. A session seen for the first time gets a stand-in at once — the app's last
/// stable answer, or <see cref="ModelResolverOptions.Fallback"/> before any answer — with no variant, so its engagement
/// counts in neither arm of a rollout, and its own answer is fetched for the next call. When the collector is
/// unreachable the last answers keep serving. The assignment itself is the collector's (a hash of rollout and session),
/// so a restarted resolver gets the same answer for the same session.
/// </summary>
public sealed class FeedbackModelResolver : IDisposable
{
    private readonly IModelSource _source;
    private readonly ModelResolverOptions _options;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, Entry> _sessions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Meter _meter;
    private ModelChoice? _lastStable;

    /// <summary>A resolver over <paramref name="source"/>.</summary>
    /// <param name="source">Where answers come from (the collector, or the loop in process).</param>
    /// <param name="options">The fallback and the limits.</param>
    /// <param name="clock">The clock of <see cref="ModelResolverOptions.RefreshAfter"/>; the system clock by default.</param>
    /// <param name="meterFactory">The host's meter factory, for the <c>feedbackloop.sdk.model.*</c> instruments of the <c>FeedbackLoop.Sdk</c> meter; a meter of its own when null.</param>
    public FeedbackModelResolver(IModelSource source, ModelResolverOptions options, TimeProvider? clock = null, IMeterFactory? meterFactory = null)
    {
        _source = source ?? throw new ArgumentNullException(nameof(source));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(options.Fallback);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RefreshAfter, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSessions, 1);
        _clock = clock ?? TimeProvider.System;
        _meter = meterFactory?.Create(new MeterOptions(FeedbackClientMetrics.MeterName)) ?? new Meter(FeedbackClientMetrics.MeterName);
        _meter.CreateObservableCounter("feedbackloop.sdk.model.answers", () => Counters.Answers, "{fetch}", "Model answers fetched (200)");
        _meter.CreateObservableCounter("feedbackloop.sdk.model.not_modified", () => Counters.NotModified, "{fetch}", "Model fetches answered 304");
        _meter.CreateObservableCounter("feedbackloop.sdk.model.fetch_failures", () => Counters.Failures, "{fetch}", "Model fetches that failed; the last answer kept serving");
        _meter.CreateObservableCounter("feedbackloop.sdk.model.stand_ins", () => Counters.StandIns, "{call}", "Calls served a stand-in model while the session's answer was fetched");
    }

    /// <summary>What the resolver did so far.</summary>
    public ModelResolverCounters Counters { get; } = new();

    /// <summary>The model for <paramref name="sessionId"/> now; never blocks, never throws for the network.</summary>
    public ModelChoice Resolve(string sessionId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        var now = _clock.GetUtcNow();
        var entry = _sessions.GetOrAdd(sessionId, static _ => new Entry());
        var (choice, fetchedAt) = entry.Read();
        if (choice is null || now - fetchedAt >= _options.RefreshAfter)
        {
            entry.StartFetch(() => FetchAsync(sessionId, entry));
        }

        if (choice is not null)
        {
            return choice;
        }

        Counters.StandIn();
        var standIn = Volatile.Read(ref _lastStable) ?? _options.Fallback;
        return standIn with { Variant = null, RolloutId = null };
    }

    /// <summary>Stops background fetches.</summary>
    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _meter.Dispose();
    }

    private async Task FetchAsync(string sessionId, Entry entry)
    {
        ModelFetch fetch;
        try
        {
            fetch = await _source.FetchAsync(sessionId, entry.ETag, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var now = _clock.GetUtcNow();
        switch (fetch.Outcome)
        {
            case ModelFetchOutcome.Answer:
                Counters.Answer();
                entry.Store(fetch.Choice!, fetch.ETag, now);
                if (fetch.Choice!.Variant == "stable") Volatile.Write(ref _lastStable, fetch.Choice);
                break;
            case ModelFetchOutcome.NotModified:
                Counters.Unchanged();
                entry.Touch(now);
                break;
            case ModelFetchOutcome.NoModel:
                // Nothing promoted yet: the fallback is the answer; ask again after RefreshAfter.
                entry.Store(_options.Fallback with { Variant = "stable", RolloutId = null }, null, now);
                break;
            default:
                // Keep serving what we have; the next call after RefreshAfter (or the next call at all, for a session with nothing) tries again.
                Counters.Failure();
                entry.Touch(now);
                break;
        }

        Trim();
    }

    private void Trim()
    {
        var excess = _sessions.Count - _options.MaxSessions;
        if (excess <= 0) return;
        foreach (var (session, _) in _sessions.OrderBy(s => s.Value.Read().FetchedAt).Take(excess + (_options.MaxSessions / 10)))
        {
            _sessions.TryRemove(session, out _);
        }
    }

    private sealed class Entry
    {
        private readonly Lock _lock = new();
        private ModelChoice? _choice;
        private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;
        private Task? _fetching;

        public string? ETag { get; private set; }

        public (ModelChoice? Choice, DateTimeOffset FetchedAt) Read()
        {
            lock (_lock) return (_choice, _fetchedAt);
        }

        /// <summary>Starts one fetch unless one is under way (a burst of calls for the same session costs one request).</summary>
        public void StartFetch(Func<Task> fetch)
        {
            lock (_lock)
            {
                if (_fetching is { IsCompleted: false }) return;
                _fetching = Task.Run(fetch);
            }
        }

        public void Store(ModelChoice choice, string? etag, DateTimeOffset at)
        {
            lock (_lock)
            {
                _choice = choice;
                ETag = etag;
                _fetchedAt = at;
            }
        }

        public void Touch(DateTimeOffset at)
        {
            lock (_lock)
            {
                // A session with nothing yet keeps asking on every call; one with an answer waits RefreshAfter again.
                if (_choice is not null) _fetchedAt = at;
            }
        }
    }
}
