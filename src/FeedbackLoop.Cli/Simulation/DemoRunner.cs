using System.Diagnostics;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Rollouts;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using FeedbackLoop.Sdk.Models;
using FeedbackLoop.Sdk.Transports;
using FeedbackLoop.Training.Adapters;
using FeedbackLoop.Training.Rewards;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Cli.Simulation;

/// <summary>Settings of one demo run. <paramref name="DriftRound"/>: the round from which users' tastes have drifted (see <see cref="ChatWorld"/>); 0 for none. <paramref name="FaultyCanary"/>: the canary the demo breaks on purpose (1 = the first); 0 for none.
/// <paramref name="MeasureShown"/>: how many outputs the last generation is shown (outside a canary) before the run ends, rounds permitting.
/// <paramref name="LearnUntilRound"/>: until this round the loop keeps training and promoting even after <paramref name="Generations"/> promotions; 0 stops it once they are reached.</summary>
internal sealed record DemoOptions(string OutputDirectory, int Seed, int Users, int Generations, int PromptsPerRound, int Rounds, int CandidatesPerPrompt, PipelineDefinition Pipeline, bool ViaCollector = false, int DriftRound = 0, int FaultyCanary = 0, int MeasureShown = DemoOptions.DefaultMeasureShown, int LearnUntilRound = 0)
{
    /// <summary>
    /// Outputs the last generation is shown before the run ends: about eight rounds of its traffic. Its thumbs-up rate is
    /// the demo's headline, and on the 375 shown that ended a run before it had a standard error of about 0.02, six points
    /// of the random→oracle gap; on 1,000 about 0.013, four points. More outputs make the figure less noisy; they do not
    /// make it higher (docs/ROLLOUT.md).
    /// </summary>
    public const int DefaultMeasureShown = 1_000;
}

/// <summary>Progress the terminal shows while the demo runs.</summary>
internal sealed record DemoProgress(int Round, int Rounds, string ModelVersion, long EventsEmitted, long Pairs);

/// <summary>
/// The closed loop in one process: a simulated chat app serves responses chosen by the currently promoted
/// reward model, its synthetic users react, and their events go through the real SDK → embedded Kafka →
/// extractors → Parquet → retrain trigger → ML.NET tuning → evaluation gate → promotion. From the second model on a
/// promotion opens a canary rollout: the app resolves each session's model through the SDK's resolver, and the rollout
/// monitor's sequential test promotes or rolls back the canary on the engagement datasets (docs/ROLLOUT.md, ADR 0035).
/// </summary>
internal sealed class DemoRunner(DemoOptions options, ILoggerFactory logging)
{
    /// <summary>The app the demo simulates; its pipeline must register it.</summary>
    public const string AppId = "demo";
    private static readonly DateTimeOffset SimulatedStart = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// How the demo's app trains its reward model (each job sets version and seed). Labels weigh 3 pairs each: most
    /// prompts end in a thumb, few in a pair, and on this app's data label weight 3 closed about 1.5 more points of the
    /// gap than 1 (−0.4 to +6 from 150 to 1,300 pairs). Feedback halves its weight every 30 simulated minutes (ten
    /// rounds), because the users' tastes drift: afterwards a candidate follows the new taste sooner, and its lead over
    /// an incumbent trained before the drift is larger on the held-out pairs (docs/adr/0036).
    /// </summary>
    internal static readonly RewardTrainingOptions Training = new()
    {
        Version = "set by each tuning job",
        LabelWeight = 3,
        RecencyHalfLife = TimeSpan.FromMinutes(30),
        NgramsWithinLines = true,
    };

    public async Task<DemoReport> RunAsync(Action<DemoProgress> progress, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var output = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(output);
        // The store runs on the simulation's clock, so a rollout's start and age are read on the events' time line.
        var simulatedTime = new DemoClock(SimulatedStart);
        var registry = new ModelRegistry(Path.Combine(output, "registry.db"), simulatedTime);
        var world = new ChatWorld(options.Users, options.Seed);
        var random = new Random(options.Seed);

        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics();
        // The loop (bus, orchestrator's supervisor, in-process worker) runs as hosted services on the same host as
        // every other role; the simulation drives it from here.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.AddFeedbackLoopDefaults("demo");
        builder.Services.AddFeedbackLoopOrchestration(registry, options.Pipeline, new LoopPaths(Path.Combine(output, "models")),
            new DatasetSnapshots(output), new MlNetRewardTrainer(Training), new MlNetPairwiseEvaluator());
        using var app = builder.Build();
        var bus = app.Services.GetRequiredService<IBusControl>();
        var triggers = new TriggerTally();
        using var observing = bus.ConnectConsumeMessageObserver(triggers);
        await app.StartAsync(ct).ConfigureAwait(false);
        app.MarkStarted();
        // The orchestrator's rollout monitor, looked at once per round (serve --watch-rollouts looks every 30 s).
        var monitor = new RolloutMonitor(registry, (appId, token) => DatasetReader.ReadEngagementTotalsAsync(output, appId, token),
            new SequentialTestOptions(), app.Services.GetRequiredService<OrchestrationTelemetry>(), simulatedTime,
            logging.CreateLogger<RolloutMonitor>());
        try
        {
            var extraction = new ExtractionLoop(new ExtractionLoopOptions
            {
                BootstrapServers = cluster.BootstrapServers,
                StateDirectory = Path.Combine(output, "state", "extract"),
                FlushInterval = TimeSpan.FromMilliseconds(250),
                // The same rules path as `extract --pipeline`: each listed app's rules, defaults for the rest.
                Settings = new ExtractionSettings { Rules = options.Pipeline.ToRuleBook() },
                Committed = written =>
                {
                    // The demo stops publishing once it is wrapping up, so no model is promoted after the report; and while
                    // a canary is on trial, so the next candidate is gated against a model that serves everyone.
                    if (!triggers.Open || registry.OpenRollout(AppId) is not null) return;
                    foreach (var (app, pairs) in written.PairsByApp)
                    {
                        triggers.Published();
                        bus.Publish(new DatasetCommitted(app, pairs, written.TraceParent), ct).GetAwaiter().GetResult();
                    }
                },
            }, new DatasetStore(output), logging.CreateLogger("extract"));
            using var stopExtraction = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var extracting = extraction.RunAsync(stopExtraction.Token);

            var generations = new List<GenerationTally>();
            var serving = new DemoServing(options.FaultyCanary);
            long emitted = 0;
            double randomRate = 0, oracleRate = 0;
            long promptsScored = 0;
            int? driftGeneration = null;

            // --via-collector: the app posts to the HTTP collector, which produces to the same cluster.
            var collector = options.ViaCollector ? await DemoCollector.StartAsync(cluster.BootstrapServers, output, AppId, ct).ConfigureAwait(false) : null;
            await using var stopCollector = collector;
            IFeedbackTransport transport = collector is null
                ? new KafkaFeedbackTransport(cluster.BootstrapServers)
                : new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = collector.Url, WriteKey = collector.Key });
            // The app asks for each session's model the way apps do (docs/SDK.md), in process as embedded mode answers it:
            // the same assignment the collector's GET /v1/apps/{app}/model gives.
            using var resolver = new FeedbackModelResolver(
                new InProcessModelSource(session => DemoServing.Choice(registry, AppId, session)),
                new ModelResolverOptions { Fallback = DemoServing.Random, RefreshAfter = TimeSpan.FromHours(1) });
            await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = AppId, MaxQueueLength = 100_000 }, transport))
            {
                var tally = new GenerationTally("random", 0, null);
                generations.Add(tally);
                var promptIndex = 0;
                for (var round = 0; round < options.Rounds; round++)
                {
                    // The last round's data must not promote a model the app would never serve.
                    if (round == options.Rounds - 1) triggers.Close();
                    var roundStart = SimulatedStart + TimeSpan.FromMinutes(3 * round);
                    simulatedTime.MoveTo(roundStart);
                    // A generation is the period one model served every session outside a canary: this is where the loop closes.
                    var stable = registry.Serving(AppId).Stable;
                    if (stable is not null && stable.Version != tally.ModelVersion)
                    {
                        var record = registry.GetModel(stable.Version)!;
                        var decision = registry.ListModels(AppId).Single(m => m.Model.Version == stable.Version).Decision;
                        tally = new GenerationTally(stable.Version, TrainPairsOf(record), decision is null ? null
                            : new GenerationEval(decision.CandidateAccuracy, decision.IncumbentAccuracy, decision.Promoted, decision.Reason));
                        generations.Add(tally);
                    }

                    var drifted = options.DriftRound > 0 && round >= options.DriftRound;
                    if (drifted) driftGeneration ??= generations.Count - 1;
                    // Sessions open before their first prompt: the app asks for their model then, so it has its answer by the prompt.
                    var sessions = Enumerable.Range(promptIndex, options.PromptsPerRound).Select(p => $"s-{options.Seed}-{p}").ToList();
                    foreach (var session in sessions) resolver.Resolve(session);
                    await WaitUntilAsync(() => sessions.All(s => resolver.Resolve(s).Assigned), TimeSpan.FromSeconds(30), "model resolver", ct).ConfigureAwait(false);
                    for (var i = 0; i < options.PromptsPerRound; i++, promptIndex++)
                    {
                        var user = random.Next(world.Users);
                        var session = sessions[i];
                        var at = roundStart + TimeSpan.FromMilliseconds(20.0 * i);
                        var candidates = ChatWorld.Candidates(promptIndex, options.CandidatesPerPrompt, options.Seed);
                        var likes = candidates.Select(c => world.LikeProbability(user, c.Traits, drifted)).ToArray();
                        randomRate += likes.Average();
                        oracleRate += likes.Max();
                        promptsScored++;
                        var served = await serving.ServeAsync(resolver.Resolve(session), ct).ConfigureAwait(false);
                        emitted += SimulatePrompt(client, served, served.Canary ? null : tally, random, session, $"u-{user}", at, promptIndex, candidates, likes);
                    }

                    if (!await client.FlushAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false))
                        throw new InvalidOperationException("the SDK could not deliver the round's events within 60 s");
                    // Wait until the extractors wrote this round, then until a run it triggered (if any) is decided.
                    await WaitUntilAsync(() => extraction.Progress.RecordsRead >= emitted, TimeSpan.FromSeconds(60), "extraction", ct).ConfigureAwait(false);
                    var flushes = extraction.Progress.Flushes;
                    await WaitUntilAsync(() => extraction.Progress.Flushes >= flushes + 2, TimeSpan.FromSeconds(30), "dataset write", ct).ConfigureAwait(false);
                    await WaitUntilAsync(() => triggers.AllHandled, TimeSpan.FromSeconds(30), "retrain triggers", ct).ConfigureAwait(false);
                    await WaitUntilAsync(() => !registry.ListRuns(AppId).Any(r => r.Status == RunStatus.Running), TimeSpan.FromMinutes(2), "tuning run", ct).ConfigureAwait(false);
                    // The monitor looks at the open rollout with the engagement windows written so far (those of earlier rounds).
                    await monitor.LookAsync(ct).ConfigureAwait(false);
                    progress(new DemoProgress(round + 1, options.Rounds, tally.ModelVersion, emitted, extraction.Progress.PairsWritten));
                    // Once the run has its promotions, is past the rounds it learns in, and the last promoted model has served
                    // a few rounds, no new run starts; then that model serves on until its thumbs-up rate is measured on
                    // options.MeasureShown outputs.
                    if (generations.Count - 1 >= options.Generations && round + 1 >= options.LearnUntilRound
                        && tally.Shown >= 5 * options.PromptsPerRound / 2)
                    {
                        // Wrap up: no new triggers; a run this round already started is decided by now (waited
                        // above). If it promoted a model, serve it for a while too, so the report holds every promotion;
                        // an open canary is served until the test decides it.
                        triggers.Close();
                        if (registry.OpenRollout(AppId) is null && registry.Serving(AppId).Stable?.Version == tally.ModelVersion
                            && tally.Shown >= options.MeasureShown)
                        {
                            break;
                        }
                    }
                }
            }

            await stopExtraction.CancelAsync().ConfigureAwait(false);
            await extracting.ConfigureAwait(false);

            var pairs = await DatasetReader.ReadPairsAsync(output, AppId, ct).ConfigureAwait(false);
            var labels = await DatasetReader.ReadLabelsAsync(output, AppId, ct).ConfigureAwait(false);
            return new DemoReport(
                generations.Select(g => g.ToRow()).ToList(),
                emitted,
                extraction.Counters.EventsProcessed,
                extraction.Progress.DeadLettered,
                pairs.Count,
                labels.Count,
                randomRate / promptsScored,
                oracleRate / promptsScored,
                clock.Elapsed.TotalSeconds)
            {
                Drift = options.DriftRound > 0 ? new DriftRow(options.DriftRound, driftGeneration) : null,
                Rollouts = serving.Rows(registry, AppId),
                InjectedFault = serving.Fault,
            };
        }
        finally
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>One prompt of one user: what the app shows and what the user does, as SDK calls. Returns events emitted.</summary>
    private static int SimulatePrompt(
        FeedbackClient client, ServedAnswer served, GenerationTally? tally, Random random, string session, string user, DateTimeOffset at,
        int promptIndex, IReadOnlyList<Candidate> candidates, double[] likes)
    {
        var prompt = ChatWorld.Prompt(promptIndex);
        var ranked = Rank(served.Model, prompt, candidates, random);
        // The deliberate fault: the model's ranking upside down.
        if (served.Faulty) ranked.Reverse();
        var version = served.Version;
        var events = 0;
        bool Send(EventData data)
        {
            at += TimeSpan.FromSeconds(1);
            events++;
            return client.Track(new FeedbackEvent(Guid.CreateVersion7().ToString(), AppId, session, user, at, data));
        }
        string Show(int candidate, string? set = null, int? position = null)
        {
            var id = $"{session}-g{candidate}";
            Send(new GenerationShown(id, version, prompt, candidates[candidate].Text, Variant: served.Variant, CandidateSetId: set, Position: position));
            return id;
        }

        if (random.NextDouble() < 0.2)
        {
            // Side by side: the model's pick against another candidate; the user prefers by hidden taste.
            var other = ranked[1 + random.Next(ranked.Count - 1)];
            var set = session + "-set";
            var a = Show(ranked[0], set, 0);
            var b = Show(other, set, 1);
            var pickA = random.NextDouble() < likes[ranked[0]] / (likes[ranked[0]] + likes[other]);
            Send(new ComparisonChosen(set, pickA ? a : b));
        }
        else
        {
            var first = ranked[0];
            var shown = Show(first);
            var liked = random.NextDouble() < likes[first];
            // A generation's rate is its model's as it served everyone outside a canary; canaries are measured by their rollout.
            if (tally is not null) tally.Shown++;
            Send(new GenerationDwell(shown, liked ? 4000 + random.Next(4000) : 800 + random.Next(1500)));
            if (liked)
            {
                if (tally is not null) tally.ThumbsUp++;
                Send(new ThumbGiven(shown, ThumbValue.Up));
                if (random.NextDouble() < 0.5) Send(new GenerationCopied(shown));
            }
            else if (random.NextDouble() < 0.5)
            {
                Send(new ThumbGiven(shown, ThumbValue.Down));
            }
            else
            {
                var next = ranked[1];
                var replacement = $"{session}-g{next}";
                Send(new GenerationRegenerated(shown, replacement));
                Show(next);
                if (random.NextDouble() < likes[next]) Send(new GenerationCopied(replacement));
                else Send(new ThumbGiven(replacement, ThumbValue.Down));
            }
        }
        Send(SessionEnded.Instance);
        return events;
    }

    /// <summary>Candidates best first by the reward model; a uniformly random order before any model exists.</summary>
    private static List<int> Rank(RewardModel? model, IReadOnlyList<ConversationTurn> prompt, IReadOnlyList<Candidate> candidates, Random random)
    {
        var order = Enumerable.Range(0, candidates.Count).OrderBy(_ => random.Next()).ToList();
        return model is null ? order : order.OrderByDescending(i => model.Score(prompt, candidates[i].Text)).ToList();
    }

    private static int TrainPairsOf(ModelVersionRecord model) => model.TrainMetrics.TrainPairs ?? 0;

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"the demo waited {timeout.TotalSeconds:0} s for the {what} to finish");
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Counts DatasetCommitted published and handled, so the demo can wait until every trigger was seen.</summary>
    private sealed class TriggerTally : IConsumeMessageObserver<DatasetCommitted>
    {
        private long _published;
        private long _handled;
        private int _closed;

        public bool Open => Volatile.Read(ref _closed) == 0;
        public bool AllHandled => Interlocked.Read(ref _handled) >= Interlocked.Read(ref _published);

        public void Published() => Interlocked.Increment(ref _published);
        public void Close() => Interlocked.Exchange(ref _closed, 1);

        public Task PreConsume(ConsumeContext<DatasetCommitted> context) => Task.CompletedTask;

        public Task PostConsume(ConsumeContext<DatasetCommitted> context)
        {
            Interlocked.Increment(ref _handled);
            return Task.CompletedTask;
        }

        public Task ConsumeFault(ConsumeContext<DatasetCommitted> context, Exception exception)
        {
            Interlocked.Increment(ref _handled);
            return Task.CompletedTask;
        }
    }

    private sealed class GenerationTally(string modelVersion, int trainPairs, GenerationEval? eval)
    {
        public string ModelVersion { get; } = modelVersion;
        public int Shown { get; set; }
        public int ThumbsUp { get; set; }

        public GenerationRow ToRow() => new(ModelVersion, Shown, Shown == 0 ? 0 : (double)ThumbsUp / Shown, trainPairs, eval);
    }
}
