using System.Globalization;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Store;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Transports;
using Xunit.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The whole topology as a team would run it, every role its own process (<c>scripts/local-cluster.sh</c>): an app's
/// SDK sends over HTTP to the collector, two extractors share the events, the orchestrator starts runs that workers
/// train and gate, and meanwhile one extractor, one worker and the active orchestrator die by SIGKILL. Afterwards every
/// event's pair and label is in the datasets once, every run ended once, and the store shows the standby's takeover.
/// </summary>
/// <remarks>
/// In the RabbitMQ collection, so it never runs beside the other PostgreSQL process tests: it sets the store password's
/// variable for this process while it runs (the other tests' servers trust loopback, but a file named there must exist).
/// </remarks>
[Collection(RabbitMqCollection.Name)]
public sealed class LocalClusterTests(ITestOutputHelper output)
{
    private const string App = "shop";
    private const int SessionsPerPhase = 240;

    [Fact]
    public async Task Sdk_traffic_over_http_reaches_promotions_while_an_extractor_a_worker_and_the_active_orchestrator_are_SIGKILLed()
    {
        using var folder = new TempFolder("cluster");
        var pipeline = folder.Combine("pipeline.yaml");
        await File.WriteAllTextAsync(pipeline, Pipeline);
        await using var cluster = await LocalCluster.UpAsync(folder.Combine("cluster"), pipeline, "postgres", App);
        output.WriteLine(cluster.UpOutput);
        // The store's password, as every role of the cluster reads it (the tests' own PostgreSQL servers trust loopback
        // and ignore it).
        Environment.SetEnvironmentVariable(StoreLocation.PasswordFileVariable, cluster.StorePasswordFile);
        try
        {
            await DriveAndCheckAsync(cluster);
        }
        finally
        {
            // Before the cluster's folder goes: a later test must not be pointed at a file that no longer exists.
            Environment.SetEnvironmentVariable(StoreLocation.PasswordFileVariable, null);
        }
    }

    private static async Task DriveAndCheckAsync(LocalCluster cluster)
    {
        var registry = new ModelRegistry(cluster.Store);
        var jobs = new JobStore(cluster.Store);
        var firstHolder = OrchestratorLease.Current(registry.Database)!.Holder;
        Assert.Equal($"{Environment.MachineName}-{cluster.Pid("orchestrator-1")}", firstHolder);

        string? killedWorker = null;
        AttemptRecord? killedAttempt = null;
        var transport = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri(cluster.CollectorUrl), WriteKey = cluster.WriteKey });
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = App, MaxQueueLength = 100_000 }, transport))
        {
            // Phase 1 teaches "an example is better"; the extractor dies half-way through it.
            await SendAsync(client, 0, SessionsPerPhase / 2, Phrasing.Example);
            cluster.Kill("extractor-1");
            await SendAsync(client, SessionsPerPhase / 2, SessionsPerPhase, Phrasing.Example);

            // A worker dies holding an attempt (the first one seen running), which must run again on the other worker.
            Assert.True(await Eventually.TrueAsync(() => RunningAttempt(jobs) is not null, TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(20)),
                $"no attempt was ever seen running.\n{Logs(cluster)}");
            killedAttempt = RunningAttempt(jobs)!;
            killedWorker = killedAttempt.WorkerId!;
            cluster.Kill(killedWorker);
            // ...and, with that run still to finish, the active orchestrator: the standby must take over and finish it.
            cluster.Kill("orchestrator-1");

            // Phase 2: users' taste moved to steps, against the first model's favourite: a second promotion.
            await SendAsync(client, SessionsPerPhase, 2 * SessionsPerPhase, Phrasing.Steps);
        }

        // Every session gave one comparison pair and one thumb label: all of them, once.
        var expectedPairs = Enumerable.Range(0, 2 * SessionsPerPhase).Select(ChosenId).ToHashSet(StringComparer.Ordinal);
        Assert.True(await Eventually.TrueAsync(async () => (await DatasetReader.ReadPairsAsync(cluster.Data, App)).Count >= expectedPairs.Count,
            TimeSpan.FromMinutes(2)), $"the pairs never all arrived.\n{Logs(cluster)}");
        var pairs = await DatasetReader.ReadPairsAsync(cluster.Data, App);
        Assert.Equal(pairs.Count, pairs.Select(p => p.PairId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(expectedPairs.Count, pairs.Count(p => p.Signal == "comparison"));
        Assert.True(expectedPairs.SetEquals(pairs.Select(p => p.ChosenGenerationId)), $"{pairs.Count} pairs for {expectedPairs.Count} sessions");
        Assert.True(await Eventually.TrueAsync(async () => (await DatasetReader.ReadLabelsAsync(cluster.Data, App)).Count >= expectedPairs.Count,
            TimeSpan.FromMinutes(1)), "the labels never all arrived");
        var labels = await DatasetReader.ReadLabelsAsync(cluster.Data, App);
        Assert.Equal(expectedPairs.Count, labels.Count);
        Assert.True(expectedPairs.SetEquals(labels.Select(l => l.GenerationId)));

        // Every run ends, once; the killed worker's attempt ended as lost and its job finished elsewhere.
        Assert.True(await Eventually.TrueAsync(() => registry.ListRuns(App) is { Count: > 0 } runs && runs.All(r => r.Status != RunStatus.Running)
            && registry.ListModels(App).Count(m => m.Decision?.Promoted == true) >= 2, TimeSpan.FromMinutes(4), TimeSpan.FromMilliseconds(250)),
            $"runs: {string.Join("; ", registry.ListRuns(App).Select(r => $"{r.RunId} {r.Status} {r.Reason}"))}\n{Logs(cluster)}");
        var finished = registry.ListRuns(App);
        Assert.All(finished, run => Assert.Equal(RunStatus.Completed, run.Status));
        Assert.Equal(finished.Count, finished.Select(r => r.CandidateVersion).Distinct(StringComparer.Ordinal).Count());
        var handovers = OrchestratorLease.Handovers(registry.Database);
        Assert.Equal((2, firstHolder), (handovers.Count, handovers[1].PreviousHolder));
        Assert.Equal($"{Environment.MachineName}-{cluster.Pid("orchestrator-2")}", handovers[1].Holder);
        foreach (var job in jobs.List(App, limit: 1000))
        {
            Assert.Equal(JobState.Succeeded, job.State);
            var attempts = jobs.Attempts(job.JobId);
            Assert.Single(attempts, a => a.State == AttemptState.Succeeded);
        }
        var lost = jobs.Attempts(killedAttempt!.JobId).Single(a => a.Attempt == killedAttempt.Attempt);
        Assert.NotEqual(AttemptState.Succeeded, lost.State);
        Assert.Equal(JobState.Succeeded, jobs.Get(killedAttempt.JobId)!.State);
        Assert.Contains(jobs.Attempts(killedAttempt.JobId), a => a.State == AttemptState.Succeeded && a.WorkerId != killedWorker);
    }

    private static AttemptRecord? RunningAttempt(JobStore jobs) =>
        jobs.List(App, JobState.Running).SelectMany(j => jobs.Attempts(j.JobId)).FirstOrDefault(a => a.State == AttemptState.Running && a.WorkerId is not null);

    private enum Phrasing
    {
        Example,
        Steps,
    }

    private static string ChosenId(int session) => string.Create(CultureInfo.InvariantCulture, $"g{session}-a");

    /// <summary>Sessions [from, to): two answers side by side, the user picks the better one and thumbs it up, then leaves.</summary>
    private static async Task SendAsync(FeedbackClient client, int from, int to, Phrasing phrasing)
    {
        var at = DateTimeOffset.UtcNow;
        for (var i = from; i < to; i++)
        {
            var session = string.Create(CultureInfo.InvariantCulture, $"s{i}");
            var set = session + "-set";
            var prompt = new[] { new ConversationTurn("user", string.Create(CultureInfo.InvariantCulture, $"How do I reset setting {i}?")) };
            var (better, worse) = phrasing == Phrasing.Example
                ? (string.Create(CultureInfo.InvariantCulture, $"Open settings, then reset {i}; for example, press reset twice."), "It depends on many things.")
                // The first model's favourite phrasing is now the worse answer: it ranks these pairs wrong, a model that
                // learned from them ranks both phases right.
                : (string.Create(CultureInfo.InvariantCulture, $"Step one: open settings. Step two: choose {i}. Step three: reset."),
                    string.Create(CultureInfo.InvariantCulture, $"For example, open settings and reset {i}; for example, press reset twice."));
            void Send(EventData data) => Assert.True(client.Track(new FeedbackEvent(Guid.CreateVersion7().ToString(), App, session, "u" + (i % 17), at = at.AddMilliseconds(1), data)));
            Send(new GenerationShown(ChosenId(i), "m0", prompt, better, CandidateSetId: set, Position: i % 2));
            Send(new GenerationShown(string.Create(CultureInfo.InvariantCulture, $"g{i}-b"), "m0", prompt, worse, CandidateSetId: set, Position: 1 - (i % 2)));
            Send(new ComparisonChosen(set, ChosenId(i)));
            Send(new ThumbGiven(ChosenId(i), ThumbValue.Up));
            Send(SessionEnded.Instance);
        }
        Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(60), CancellationToken.None), "the SDK did not deliver within 60 s");
    }

    private static string Logs(LocalCluster cluster) =>
        string.Join('\n', ((string[])["orchestrator-1", "orchestrator-2", "worker-1", "worker-2", "extractor-2", "collector"]).Select(name => $"--- {name} ---\n{Tail(cluster.Log(name))}"));

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(30));

    private const string Pipeline = """
        defaults:
          retrain: {min_new_pairs: 120}
          split: {eval_fraction: 0.25}
          trainer: {kind: mlnet-reward, seed: 7}
          jobs: {max_attempts: 3, retry_backoff: 200ms, heartbeat_timeout: 4s}
          gate: {margin: 0.02}
        apps:
          shop:
        """;
}
