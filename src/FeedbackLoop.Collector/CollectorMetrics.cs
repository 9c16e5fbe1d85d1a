using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Collector;

/// <summary>
/// The <c>FeedbackLoop.Collector</c> meter (docs/OBSERVABILITY.md). Tag values come from fixed sets (refusal codes,
/// rejection kinds); none comes from a request.
/// </summary>
internal sealed class CollectorMetrics : IDisposable
{
    public const string MeterName = "FeedbackLoop.Collector";

    private readonly Meter _meter;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _keyReloadFailures;
    private readonly Counter<long> _modelAnswers;
    private readonly Counter<long> _servingReadFailures;

    public CollectorMetrics(IMeterFactory? factory, Func<long> inFlightBytes)
    {
        var version = typeof(CollectorMetrics).Assembly.GetName().Version?.ToString();
        _meter = factory?.Create(new MeterOptions(MeterName) { Version = version }) ?? new Meter(MeterName, version);
        _refused = _meter.CreateCounter<long>("feedbackloop.collector.requests_refused", "{request}", "requests refused whole, by reason");
        _batches = _meter.CreateCounter<long>("feedbackloop.collector.batches_answered", "{request}", "requests answered 200 after Kafka acknowledged every accepted event");
        _accepted = _meter.CreateCounter<long>("feedbackloop.collector.events_accepted", "{event}", "events acknowledged by Kafka and counted accepted in a 200");
        _rejected = _meter.CreateCounter<long>("feedbackloop.collector.events_rejected", "{event}", "events of a 200 refused one by one (and dead-lettered), by reason");
        _keyReloadFailures = _meter.CreateCounter<long>("feedbackloop.collector.key_reload_failures", "{reload}", "times the changed keys file could not be read (the loaded keys stay)");
        _modelAnswers = _meter.CreateCounter<long>("feedbackloop.collector.model_answers", "{request}",
            "GET /v1/apps/{app}/model answered, by outcome: stable, canary, no_model or not_modified (304)");
        _servingReadFailures = _meter.CreateCounter<long>("feedbackloop.collector.serving_read_failures", "{read}",
            "times the app's serving state could not be read from the store (answered 503 serving_unavailable)");
        _meter.CreateObservableGauge("feedbackloop.collector.in_flight_bytes", inFlightBytes, "By", "request bytes held now, against MaxInFlightBytes");
    }

    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Answered(int accepted)
    {
        _batches.Add(1);
        if (accepted > 0) _accepted.Add(accepted);
    }

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void KeyReloadFailed() => _keyReloadFailures.Add(1);

    public void ModelAnswered(string outcome) => _modelAnswers.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void ServingReadFailed() => _servingReadFailures.Add(1);

    /// <summary>The <c>reason</c> tag of a rejected event.</summary>
    public static string ReasonTag(EventRejectionKind kind) => kind switch
    {
        EventRejectionKind.InvalidField => "invalid_field",
        EventRejectionKind.NotJson => "not_json",
        EventRejectionKind.TooLarge => "too_large",
        EventRejectionKind.UnsupportedVersion => "unsupported_version",
        EventRejectionKind.UnknownType => "unknown_type",
        EventRejectionKind.EventTimeOutOfRange => "event_time_out_of_range",
        _ => "other",
    };

    public void Dispose() => _meter.Dispose();
}
