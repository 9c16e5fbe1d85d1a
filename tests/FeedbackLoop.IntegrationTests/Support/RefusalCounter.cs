using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FeedbackLoop.Collector;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>The collector tests share one collection: a <see cref="RefusalCounter"/> hears every collector in the process.</summary>
internal static class CollectorTests
{
    public const string Collection = "collector";
}

/// <summary>Listens to <c>feedbackloop.collector.requests_refused</c> and sums it by <c>reason</c>.</summary>
internal sealed class RefusalCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public RefusalCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CollectorMetrics.MeterName && instrument.Name == "feedbackloop.collector.requests_refused") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason") _counts.AddOrUpdate((string)tag.Value!, value, (_, sum) => sum + value);
            }
        });
        _listener.Start();
    }

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts, StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();
}
