using System.Collections.Concurrent;
using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// One trace from the app's request to the model it helped promote: the SDK puts the request's span on each Kafka
/// record, the extractor's commit span continues it, DatasetCommitted carries the commit's context to the orchestrator,
/// the run stores it, and every step of the run (its jobs, run by real trainer processes, the gate, the promotion) is a
/// span of that same trace.
/// </summary>
public sealed class FeedbackToPromotionTraceTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>, IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly JobLoop _loop = new();

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    [Fact]
    public async Task One_trace_id_follows_an_sdk_event_through_extraction_and_the_run_to_the_promotion()
    {
        using var app = new ActivitySource("FeedbackLoop.IntegrationTests.ChatApp");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source == app
                || source.Name is ExtractionTelemetry.ActivitySourceName or OrchestrationTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await _loop.StartAsync(JobLoop.Pipeline(_loop.Markers)); // promotes at 60 new pairs when there is no incumbent

        // The app: one request whose users chose among three answers in 40 sessions (2 pairs each, 80 in all).
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        ActivityContext request;
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = JobLoop.AppId }, new KafkaFeedbackTransport(fixture.Cluster.BootstrapServers, harness.Topic)))
        {
            using (var span = app.StartActivity("chat request"))
            {
                request = span!.Context;
                foreach (var evt in Comparisons(40)) Assert.True(client.Track(evt));
            }

            Assert.True(await client.FlushAsync(Deadline));
        }

        // The extractor writes into the loop's data folder and announces each commit with its trace, as a deployment's would.
        var options = harness.Options(dataRoot: _loop.Root) with
        {
            Committed = written =>
            {
                foreach (var (appId, pairs) in written.PairsByApp)
                {
                    _loop.Harness.Bus.Publish(new DatasetCommitted(appId, pairs, written.TraceParent)).GetAwaiter().GetResult();
                }
            },
        };
        var extraction = new ExtractionLoop(options, new DatasetStore(_loop.Root), NullLogger.Instance);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            await extraction.RunAsync(timeout.Token);
        }

        var run = await _loop.RunEndedAsync();
        Assert.Equal(RunStatus.Completed, run.Status);
        var promoted = _loop.Registry.CurrentModel(JobLoop.AppId);
        Assert.NotNull(promoted);
        Assert.Equal(run.RunId, promoted.RunId);
        // Every step's span has stopped. Not only run.complete: a job's span stops on the worker once the job's report is
        // sent, so the orchestrator can gate, promote and complete the run before the worker's job.eval span has stopped.
        string[] steps = ["run.create_tune_job", "job.tune", "run.register_candidate", "run.create_eval_job", "job.eval", "run.gate", "run.promote", "run.complete"];
        await Eventually.HoldsAsync(() => steps.All(step => stopped.Any(a => a.TraceId == request.TraceId && a.OperationName == step)), Deadline,
            "every step's span of the run");

        // Every span of the way shares the app request's trace id, and each hop is the child of the one before.
        var trace = stopped.Where(a => a.TraceId == request.TraceId).ToList();
        // The extractor may commit the request's records in more than one batch; each commit is the request's child, and
        // the run continues the commit that brought the pairs over the threshold.
        var commits = trace.Where(a => a.OperationName == ExtractionTelemetry.CommitActivityName).ToList();
        Assert.NotEmpty(commits);
        Assert.All(commits, commit => Assert.Equal(request.SpanId, commit.ParentSpanId));
        var start = Assert.Single(trace, a => a.OperationName == "run.start");
        Assert.Contains(commits, commit => commit.SpanId == start.ParentSpanId);
        Assert.Equal(run.RunId, start.GetTagItem("feedbackloop.run_id"));
        foreach (var step in steps)
        {
            var span = Assert.Single(trace, a => a.OperationName == step);
            Assert.Equal(start.SpanId, span.ParentSpanId);
            Assert.Equal(run.RunId, span.GetTagItem("feedbackloop.run_id"));
        }

        Assert.Equal(promoted.Version, trace.Single(a => a.OperationName == "run.promote").GetTagItem("feedbackloop.model_version"));
        Assert.Equal("promoted", trace.Single(a => a.OperationName == "run.complete").GetTagItem("feedbackloop.run.outcome"));
        Assert.Equal(TraceParent.Format(start.Context), _loop.Registry.TraceParentOf(run.RunId));
    }

    /// <summary>Sessions in which a user chose one of three answers (rule 1: two pairs each), then left.</summary>
    private static IEnumerable<FeedbackEvent> Comparisons(int sessions)
    {
        for (var i = 0; i < sessions; i++)
        {
            var set = $"set{i}";
            foreach (var evt in new SessionScript(JobLoop.AppId, $"s{i}", $"u{i}", KnownSessions.Start.AddSeconds(i))
                .Shown($"g{i}-a", $"Question {i}?", $"Short answer {i}.", set)
                .Shown($"g{i}-b", $"Question {i}?", $"Answer {i}, with an example.", set)
                .Shown($"g{i}-c", $"Question {i}?", $"Well, {i} depends.", set)
                .Add(new ComparisonChosen(set, $"g{i}-b")).End().Events)
            {
                yield return evt;
            }
        }
    }
}
