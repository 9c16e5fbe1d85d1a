using System.Diagnostics;
using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Orchestration.Telemetry;

/// <summary>
/// The orchestrator's instruments (docs/OBSERVABILITY.md lists each with its unit and tags). Tags are
/// fixed, low-cardinality words (stage, outcome, decision) and app ids, which only registered apps bring here; never
/// run ids, versions or reasons, which would make one time series per run.
/// </summary>
public sealed class OrchestrationTelemetry : IDisposable
{
    /// <summary>The orchestrator's meter (<c>AddMeter("FeedbackLoop.Orchestration")</c>).</summary>
    public const string MeterName = "FeedbackLoop.Orchestration";

    /// <summary>The spans of runs and job attempts (<c>AddSource("FeedbackLoop.Orchestration")</c>).</summary>
    public const string ActivitySourceName = "FeedbackLoop.Orchestration";

    private readonly Meter _meter;
    private readonly Counter<long> _runsStarted;
    private readonly Counter<long> _runsEnded;
    private readonly Counter<long> _gateDecisions;
    private readonly Counter<long> _attempts;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _attemptDuration;
    private readonly Counter<long> _unregisteredAppCommits;
    private readonly Counter<long> _actionsAnnounced;
    private readonly Counter<long> _rolloutDecisions;
    private readonly Counter<long> _reviewWaits;
    private readonly Counter<long> _unclaimedOffers;
    private readonly Counter<long> _refusedOffers;

    /// <summary>Creates the instruments on meters from <paramref name="factory"/> (the host's), or on new meters.</summary>
    /// <param name="factory">The host's meter factory; null outside a host (tests, tools).</param>
    /// <param name="activeRuns">Reads how many runs are running now (the store's count); null where this process has no store.</param>
    public OrchestrationTelemetry(IMeterFactory? factory = null, Func<int>? activeRuns = null)
    {
        var version = typeof(OrchestrationTelemetry).Assembly.GetName().Version?.ToString();
        _meter = factory?.Create(new MeterOptions(MeterName) { Version = version }) ?? new Meter(MeterName, version);
        _runsStarted = _meter.CreateCounter<long>("feedbackloop.runs.started", "{run}", "Tuning runs started by the retrain trigger");
        _runsEnded = _meter.CreateCounter<long>("feedbackloop.runs.ended", "{run}",
            "Runs that ended, by outcome: promoted, awaiting_signoff, rejected, superseded, failed_tuning, failed_evaluation, unregistered_app");
        _gateDecisions = _meter.CreateCounter<long>("feedbackloop.gate.decisions", "{decision}", "Gate decisions, by decision: promote or reject");
        _attempts = _meter.CreateCounter<long>("feedbackloop.job.attempts", "{attempt}",
            "Job attempts that ended, by job kind and outcome: succeeded, failed, timed_out, cancelled (worker reports), expired (the orchestrator gave up on a silent or overdue one) or cancelled (a person cancelled it)");
        _queueWait = _meter.CreateHistogram<double>("feedbackloop.job.queue_wait", "s", "Time from an attempt's offer to its grant to a worker, by job kind");
        _attemptDuration = _meter.CreateHistogram<double>("feedbackloop.job.duration", "s",
            "How long a worker ran an attempt (training for tune jobs, scoring for eval jobs), by job kind and outcome");
        _unclaimedOffers = _meter.CreateCounter<long>("feedbackloop.job.unclaimed_offers", "{offer}",
            "Offers sent again because no worker claimed them in time, by pool: most often no worker of that pool is running");
        _refusedOffers = _meter.CreateCounter<long>("feedbackloop.job.refused_offers", "{offer}",
            "Job offers a worker refused to run, by reason (unsigned, bad_signature, wrong_pool, bad_spec): nothing of them ran");
        _unregisteredAppCommits = _meter.CreateCounter<long>("feedbackloop.runs.unregistered_app_commits", "{message}",
            "DatasetCommitted messages for an app that is not registered: ignored, no run starts");
        _actionsAnnounced = _meter.CreateCounter<long>("feedbackloop.model_actions.announced", "{action}",
            "People's model actions the orchestrator announced on the bus, by action: approve, promote (ModelPromoted) or rollback (ModelRolledBack)");
        _rolloutDecisions = _meter.CreateCounter<long>("feedbackloop.rollouts.decisions", "{decision}",
            "Decisions the rollout monitor stored, by decision: extend, promote or rollback");
        _reviewWaits = _meter.CreateCounter<long>("feedbackloop.runs.review_waits", "{check}",
            "Checks that found a due run of an app with review.required short of its reviewed share, so it waits (by app)");
        if (activeRuns is not null)
        {
            _meter.CreateObservableUpDownCounter("feedbackloop.runs.active", () => activeRuns(), "{run}", "Runs in progress now (state running)");
        }
    }

    /// <summary>The orchestrator's meter instance (a listener in a test tells this process's loop from another's by it).</summary>
    internal Meter OrchestratorMeter => _meter;

    /// <summary>The source of the orchestration spans; one per process, as OpenTelemetry expects.</summary>
    public static ActivitySource Source { get; } = new(ActivitySourceName);

    /// <summary>
    /// Starts a span of run <paramref name="runId"/> as a child of <paramref name="traceParent"/> (a W3C
    /// <c>traceparent</c>), so every step of a run joins the trace that began with the app's feedback; a root span when
    /// the run has no trace. Null when nobody listens.
    /// </summary>
    public static Activity? StartRunSpan(string name, string? traceParent, string runId, string appId, DateTimeOffset startTime = default)
    {
        var parent = traceParent is not null && TraceParent.TryParse(traceParent, out var context) ? context : default;
        var span = Source.StartActivity(name, ActivityKind.Internal, parent, startTime: startTime);
        span?.SetTag("feedbackloop.app_id", appId);
        span?.SetTag("feedbackloop.run_id", runId);
        return span;
    }

    /// <summary>A run started for <paramref name="appId"/>.</summary>
    public void RunStarted(string appId) => _runsStarted.Add(1, new KeyValuePair<string, object?>("app_id", appId));

    /// <summary>A run of <paramref name="appId"/> ended with <paramref name="outcome"/> (one of the words in the instrument's description).</summary>
    public void RunEnded(string appId, string outcome) =>
        _runsEnded.Add(1, new KeyValuePair<string, object?>("app_id", appId), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>The gate decided on a candidate of <paramref name="appId"/>.</summary>
    public void GateDecided(string appId, bool promote) =>
        _gateDecisions.Add(1, new KeyValuePair<string, object?>("app_id", appId), new KeyValuePair<string, object?>("decision", promote ? "promote" : "reject"));

    /// <summary>An attempt of a <paramref name="kind"/> job ended with <paramref name="outcome"/>, after <paramref name="seconds"/> on its worker when known.</summary>
    public void AttemptEnded(string kind, string outcome, double? seconds)
    {
        var tags = new TagList { { "kind", kind }, { "outcome", outcome } };
        _attempts.Add(1, tags);
        if (seconds is { } s && double.IsFinite(s) && s >= 0)
        {
            _attemptDuration.Record(s, tags);
        }
    }

    /// <summary>An attempt of a <paramref name="kind"/> job was granted <paramref name="wait"/> after it was offered.</summary>
    public void AttemptGranted(string kind, TimeSpan wait) =>
        _queueWait.Record(Math.Max(0, wait.TotalSeconds), new KeyValuePair<string, object?>("kind", kind));

    /// <summary>A DatasetCommitted for an app that is not registered was ignored (no app id tag: the id is the sender's choice).</summary>
    public void UnregisteredAppIgnored() => _unregisteredAppCommits.Add(1);

    /// <summary>Counts an offer of <paramref name="pool"/> sent again because nobody claimed it.</summary>
    public void OfferUnclaimed(string pool) => _unclaimedOffers.Add(1, new KeyValuePair<string, object?>("pool", pool));

    /// <summary>Counts an offer a worker refused to run (<paramref name="reason"/> is a fixed word, never message text).</summary>
    public void OfferRefused(string reason) => _refusedOffers.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A person's <paramref name="action"/> on a model of <paramref name="appId"/> was announced on the bus.</summary>
    public void ActionAnnounced(string appId, string action) =>
        _actionsAnnounced.Add(1, new KeyValuePair<string, object?>("app_id", appId), new KeyValuePair<string, object?>("action", action));

    /// <summary>The rollout monitor stored a <paramref name="decision"/> on a rollout of <paramref name="appId"/>.</summary>
    public void RolloutDecided(string appId, string decision) =>
        _rolloutDecisions.Add(1, new KeyValuePair<string, object?>("app_id", appId), new KeyValuePair<string, object?>("decision", decision));
    /// <summary>A due run of <paramref name="appId"/> waits: too few of its new pairs are reviewed.</summary>
    public void ReviewWaited(string appId) => _reviewWaits.Add(1, new KeyValuePair<string, object?>("app_id", appId));

    /// <inheritdoc />
    public void Dispose()
    {
        _meter.Dispose();
    }
}
