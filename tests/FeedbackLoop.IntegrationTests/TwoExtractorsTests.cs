using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Two <c>extract</c> processes in one consumer group on one data folder, one of them SIGKILLed and restarted while
/// events flow, write what one process writes from the same topic (issue 11, item 6): the same pairs and labels, each
/// once, and the same engagement rows, so the same totals per window.
/// </summary>
public sealed class TwoExtractorsTests : IDisposable
{
    private const string App = "demo";
    private const int Sessions = 2400;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "feedbackloop-two-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public async Task Two_instances_with_one_killed_and_restarted_mid_stream_write_exactly_what_one_instance_writes()
    {
        var shared = Path.Combine(_root, "two");
        var single = Path.Combine(_root, "one");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "4");
        var bootstrap = await BootstrapOfAsync(broker);
        var events = InterleavedSessions();
        string[] Extract(string data, string group, params string[] more) => ["extract", "--bootstrap", bootstrap, "--data", data, "--group", group, "--verbose", .. more];

        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        using (var first = CliProcess.Start(Extract(shared, "two")))
        using (var second = CliProcess.Start(Extract(shared, "two")))
        {
            Assert.True(await Eventually.TrueAsync(() => Assigned(first) && Assigned(second), Deadline), $"not both assigned:\n{first.Output}\n---\n{second.Output}");
            Produce(producer, events, 0, events.Count * 2 / 5);
            var pairs = DatasetPaths.Folder(shared, App, DatasetKinds.PreferencePairs);
            Assert.True(await Eventually.TrueAsync(() => DatasetPaths.Files(pairs).Count > 0, Deadline), $"no pairs written:\n{first.Output}\n---\n{second.Output}");

            // A crash mid-stream: its partitions move to the other instance, which re-reads them from the committed
            // offset, and back to the restarted one, while events go on arriving.
            first.KillHard();
            Produce(producer, events, events.Count * 2 / 5, events.Count * 7 / 10);
            using var restarted = CliProcess.Start(Extract(shared, "two"));
            Assert.True(await Eventually.TrueAsync(() => Assigned(restarted), Deadline), $"the restarted instance got no partition:\n{restarted.Output}");
            Produce(producer, events, events.Count * 7 / 10, events.Count);

            Assert.False(restarted.HasExited, restarted.Output);
            Assert.False(second.HasExited, second.Output);
            Assert.Equal(0, (await restarted.TerminateAsync(TimeSpan.FromSeconds(10))).ExitCode);
            Assert.Equal(0, (await second.TerminateAsync(TimeSpan.FromSeconds(10))).ExitCode);
        }
        // The group finishes the stream: open sessions and windows are resolved at its end, as a single run's are.
        await RunUntilIdleAsync(Extract(shared, "two", "--until-idle", "3"));
        var singleRun = await RunUntilIdleAsync(Extract(single, "one", "--until-idle", "3"));

        var twoPairs = await DatasetReader.ReadPairsAsync(shared, App);
        var onePairs = await DatasetReader.ReadPairsAsync(single, App);
        Assert.Equal(Sessions, onePairs.Count);
        AssertSameIdsOnce(onePairs.Select(p => p.PairId), twoPairs.Select(p => p.PairId), "pairs");
        var twoLabels = await DatasetReader.ReadLabelsAsync(shared, App);
        var oneLabels = await DatasetReader.ReadLabelsAsync(single, App);
        Assert.Equal(Sessions, oneLabels.Count);
        AssertSameIdsOnce(oneLabels.Select(l => l.LabelId), twoLabels.Select(l => l.LabelId), "labels");
        var twoRows = await DatasetReader.ReadEngagementAsync(shared, App);
        var oneRows = await DatasetReader.ReadEngagementAsync(single, App);
        AssertSameIdsOnce(oneRows.Select(w => w.WindowId), twoRows.Select(w => w.WindowId), "engagement rows");

        var oneTotals = await DatasetReader.ReadEngagementTotalsAsync(single, App);
        var twoTotals = await DatasetReader.ReadEngagementTotalsAsync(shared, App);
        // Windows close on event time only, so the last minute or two of the stream stay open in both runs. The full
        // minutes in between hold 300 sessions of each model: 600 shown, 300 thumbs and dwell events.
        var fullMinutes = oneTotals.Where(t => t.WindowStart == KnownSessions.Start.AddMinutes(1) || t.WindowStart == KnownSessions.Start.AddMinutes(2)).ToList();
        Assert.True(fullMinutes.Count == 4, $"closed windows:\n{string.Join('\n', oneTotals)}\n{singleRun}");
        Assert.All(fullMinutes, t => Assert.Equal((600L, 300L, 300L, 4), (t.Shown, t.ThumbsUp, t.DwellSamples, t.Partitions)));
        var differing = twoRows.Except(oneRows).Select(w => $"{w.WindowStart:HH:mm} {w.ModelVersion} p{w.Partition}: two {Counts(w)} one {Counts(oneRows.Single(o => o.WindowId == w.WindowId))}");
        Assert.True(oneTotals.SequenceEqual(twoTotals), "rows that differ:\n" + string.Join('\n', differing));
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// <c>extract --consumers</c> runs several loops in one process, so different partitions' work runs on different cores
    /// (issue 11, item 1). Three loops on a topic of two partitions write exactly what one loop writes; the loop the group
    /// gave no partition does not hold <c>--until-idle</c> open; the summary counts every loop's records.
    /// </summary>
    [Fact]
    public async Task Consumers_in_one_process_write_what_one_consumer_writes_and_one_without_partitions_does_not_hold_until_idle()
    {
        var several = Path.Combine(_root, "several");
        var single = Path.Combine(_root, "single");
        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "2");
        var bootstrap = await BootstrapOfAsync(broker);
        var events = InterleavedSessions();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build())
            Produce(producer, events, 0, events.Count);

        var severalRun = await RunUntilIdleAsync(["extract", "--bootstrap", bootstrap, "--data", several, "--group", "several", "--consumers", "3", "--until-idle", "3"]);
        await RunUntilIdleAsync(["extract", "--bootstrap", bootstrap, "--data", single, "--group", "single", "--until-idle", "3"]);

        Assert.Contains("3 consumers", severalRun, StringComparison.Ordinal);
        var read = long.Parse(Regex.Match(severalRun, @"events read (\d+),").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(read >= events.Count, $"the summary counts {read} of {events.Count} records:\n{severalRun}");
        var onePairs = await DatasetReader.ReadPairsAsync(single, App);
        Assert.Equal(Sessions, onePairs.Count);
        AssertSameIdsOnce(onePairs.Select(p => p.PairId), (await DatasetReader.ReadPairsAsync(several, App)).Select(p => p.PairId), "pairs");
        AssertSameIdsOnce((await DatasetReader.ReadLabelsAsync(single, App)).Select(l => l.LabelId),
            (await DatasetReader.ReadLabelsAsync(several, App)).Select(l => l.LabelId), "labels");
        var oneRows = await DatasetReader.ReadEngagementAsync(single, App);
        var severalRows = await DatasetReader.ReadEngagementAsync(several, App);
        AssertSameIdsOnce(oneRows.Select(w => w.WindowId), severalRows.Select(w => w.WindowId), "engagement rows");
        Assert.Equal(oneRows.OrderBy(w => w.WindowId, StringComparer.Ordinal), severalRows.OrderBy(w => w.WindowId, StringComparer.Ordinal));
        await broker.TerminateAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Which refused commits an instance skips (the group is changing) and which still stop it.</summary>
    [Theory]
    [InlineData(ErrorCode.RebalanceInProgress, true)]
    [InlineData(ErrorCode.IllegalGeneration, true)]
    [InlineData(ErrorCode.UnknownMemberId, true)]
    [InlineData(ErrorCode.Local_State, false)]
    [InlineData(ErrorCode.OffsetMetadataTooLarge, false)]
    [InlineData(ErrorCode.GroupAuthorizationFailed, false)]
    [InlineData(ErrorCode.Local_Transport, false)]
    public void A_commit_refused_because_the_group_is_rebalancing_is_skipped_and_any_other_refusal_stops_the_instance(ErrorCode code, bool skipped) =>
        Assert.Equal(skipped, ExtractionLoop.IsGroupChange(code));

    private static string Counts(EngagementWindow w) => $"shown {w.Shown} up {w.ThumbsUp} won {w.ComparisonsWon} lost {w.ComparisonsLost} dwell {w.DwellSamples}";

    /// <summary>The bootstrap servers a started <c>feedbackloop broker</c> prints on its first line.</summary>
    private static async Task<string> BootstrapOfAsync(CliProcess broker) =>
        (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];

    private static bool Assigned(CliProcess extract) => extract.Output.Contains("Assigned partitions", StringComparison.Ordinal);

    private static async Task<string> RunUntilIdleAsync(string[] arguments)
    {
        using var run = CliProcess.Start(arguments);
        var exit = await run.ExitAsync(TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, $"exit {exit}:\n{run.Output}");
        return run.Output;
    }

    private static void AssertSameIdsOnce(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var want = expected.ToList();
        var got = actual.ToList();
        var doubled = got.GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(doubled.Count == 0, $"{what}: {doubled.Count} ids written more than once");
        Assert.Equal(want.Count, want.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(want.Order(StringComparer.Ordinal), got.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Side-by-side sessions, 100 ms apart, each lasting seconds: about fifty are open at any time, spread over the
    /// partitions by session key, on two model versions. Every session yields one pair, one label, two shown and one dwell.
    /// Event time moves slowly against the record count (a produced slice spans well under the minute of allowed
    /// lateness), so no event is late in either run and the engagement rows depend on the input alone.
    /// </summary>
    private static List<FeedbackEvent> InterleavedSessions()
    {
        var events = new List<FeedbackEvent>();
        for (var i = 0; i < Sessions; i++)
        {
            var set = $"set{i}";
            var model = i % 2 == 0 ? "m1" : "m2";
            events.AddRange(new SessionScript(App, $"s{i}", $"u{i % 50}", KnownSessions.Start.AddMilliseconds(100 * i))
                .Shown($"a{i}", $"Question {i}?", $"Answer {i}, short.", set, model).Shown($"b{i}", $"Question {i}?", $"Answer {i}, long and winding.", set, model)
                .Add(new ComparisonChosen(set, $"a{i}")).Add(new ThumbGiven($"a{i}", ThumbValue.Up)).Add(new GenerationDwell($"a{i}", 100 + i % 900)).End().Events);
        }
        return [.. events.OrderBy(e => e.OccurredAt)];
    }

    private static void Produce(IProducer<string, byte[]> producer, List<FeedbackEvent> events, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            producer.Produce(KafkaTopics.Events, new Message<string, byte[]> { Key = events[i].SessionId, Value = EventJson.SerializeToUtf8Bytes(events[i]) });
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
