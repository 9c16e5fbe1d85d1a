using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>Marks the meters it creates as its own, so a listener can tell this test's loop from others running at the same time.</summary>
internal sealed class ScopedMeterFactory : IMeterFactory
{
    private readonly ConcurrentBag<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        options.Scope = this;
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters) meter.Dispose();
    }
}
