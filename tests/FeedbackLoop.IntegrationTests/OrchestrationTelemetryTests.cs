using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>The orchestrator's instruments, read through a real <see cref="MeterListener"/> while a loop runs jobs on real processes.</summary>
public sealed class OrchestrationTelemetryTests : IAsyncDisposable
{
    private readonly JobLoop _loop = new();

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task A_promoted_run_is_counted_by_stage_outcome_and_duration()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers));
        var meter = _loop.Services.GetRequiredService<OrchestrationTelemetry>().OrchestratorMeter;
        using var recorded = new Recorder(meter);

        await _loop.CommitAsync(120);
        var run = await _loop.RunEndedAsync();
        var attempts = new[] { JobIds.Tune(run.RunId), JobIds.Eval(run.RunId) }.SelectMany(_loop.Jobs.Attempts).ToList();
        await EndCountedAsync(recorded, attempts);
        recorded.Listener.RecordObservableInstruments();

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, recorded.Sum("feedbackloop.runs.started", ("app_id", "demo")));
        Assert.Equal(1, recorded.Sum("feedbackloop.runs.ended", ("app_id", "demo"), ("outcome", "promoted")));
        Assert.Equal(1, recorded.Sum("feedbackloop.gate.decisions", ("decision", "promote")));
        Assert.Equal(0, recorded.Sum("feedbackloop.gate.decisions", ("decision", "reject")));
        Assert.Equal(1, recorded.Sum("feedbackloop.job.attempts", ("kind", "tune"), ("outcome", "succeeded")));
        Assert.Equal(1, recorded.Sum("feedbackloop.job.attempts", ("kind", "eval"), ("outcome", "succeeded")));
        // Under load a worker's heartbeat can miss the short test timeout, so an attempt may be given up on and offered
        // again: every count is checked against the attempts the store recorded, not against a guess.
        Assert.Equal(attempts.Count, recorded.Count("feedbackloop.job.queue_wait"));
        Assert.Equal(attempts.Count(a => a.State == AttemptState.Lost), recorded.Sum("feedbackloop.job.attempts", ("outcome", "expired")));
        Assert.All(recorded.Values("feedbackloop.job.duration"), seconds => Assert.InRange(seconds, 0.0, 60.0));
        Assert.Equal(2, recorded.Count("feedbackloop.job.duration"));
        Assert.Equal(0, recorded.Last("feedbackloop.runs.active"));
    }

    [Fact]
    public async Task A_failing_trainer_counts_each_failed_attempt_and_the_failed_run()
    {
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers, maxAttempts: 2));
        var meter = _loop.Services.GetRequiredService<OrchestrationTelemetry>().OrchestratorMeter;
        using var recorded = new Recorder(meter);
        _loop.Marker("fail-always");

        await _loop.CommitAsync(120);
        var run = await _loop.RunEndedAsync();

        Assert.Equal(RunStatus.Failed, run.Status);
        var attempts = _loop.Jobs.Attempts(JobIds.Tune(run.RunId));
        Assert.Equal(2, attempts.Count);
        await EndCountedAsync(recorded, attempts);
        Assert.Equal(attempts.Count(a => a.State == AttemptState.Failed), recorded.Sum("feedbackloop.job.attempts", ("kind", "tune"), ("outcome", "failed")));
        Assert.Equal(attempts.Count(a => a.State == AttemptState.Lost), recorded.Sum("feedbackloop.job.attempts", ("kind", "tune"), ("outcome", "expired")));
        Assert.Equal(1, recorded.Sum("feedbackloop.runs.ended", ("outcome", "failed_tuning")));
        Assert.Equal(0, recorded.Count("feedbackloop.gate.decisions"));
    }

    /// <summary>
    /// Waits until the run's end and every attempt the store holds as ended have been counted. The store is written first
    /// and the count follows (the report consumer counts an attempt just after recording it; the reconciler counts a run
    /// just after completing it), and the supervisor's sweep may end the run in between: a run the registry shows as
    /// ended does not yet mean its counts are in (a CI run once saw eval's success counted 0 times that way).
    /// </summary>
    private static async Task EndCountedAsync(Recorder recorded, IReadOnlyList<AttemptRecord> attempts)
    {
        var ended = attempts.Count(a => a.State is not (AttemptState.Offered or AttemptState.Running));
        Assert.True(await Eventually.TrueAsync(
                () => recorded.Sum("feedbackloop.job.attempts") >= ended && recorded.Sum("feedbackloop.runs.ended") >= 1, TimeSpan.FromSeconds(10)),
            $"{recorded.Sum("feedbackloop.job.attempts")} of {ended} ended attempts and {recorded.Sum("feedbackloop.runs.ended")} of 1 run end were counted");
    }

    /// <summary>Every measurement of one meter instance (other tests' loops in this process have their own).</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly ConcurrentQueue<(string Name, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

        public Recorder(Meter meter)
        {
            Listener = new MeterListener
            {
                InstrumentPublished = (instrument, listener) =>
                {
                    if (ReferenceEquals(instrument.Meter, meter))
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                },
            };
            Listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
            Listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
            Listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
            Listener.Start();
        }

        public MeterListener Listener { get; }

        public IEnumerable<double> Values(string name, params (string Key, string Value)[] tags) =>
            _measurements.Where(m => m.Name == name && tags.All(t => m.Tags.Any(k => k.Key == t.Key && Equals(k.Value, t.Value)))).Select(m => m.Value);

        public double Sum(string name, params (string Key, string Value)[] tags) => Values(name, tags).Sum();

        public int Count(string name) => Values(name).Count();

        public double Last(string name) => Values(name).Last();

        public void Dispose() => Listener.Dispose();
    }
}
