using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 10, finding 3 through the real path: records in the embedded cluster, the extraction loop, Parquet. One app's
/// clock (current traffic, one event four minutes ahead, inside the allowed skew) on the same partition as another
/// app's legitimate backfill must not expire the backfill's sessions or close its engagement windows.
/// </summary>
public sealed class HardeningEventTimeTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task Another_apps_current_clock_on_the_same_partition_leaves_a_backfill_exactly_as_alone()
    {
        // The backfill: app "demo"'s known sessions, dated 2026-03-01, months before the records are written.
        var backfill = KnownSessions.All();
        using var alone = new PipelineHarness(fixture.Cluster, partitions: 1);
        alone.Produce(backfill);
        var aloneLoop = await alone.ExtractAsync();

        // App "other" is live: its events are dated now, one of them four minutes ahead (accepted: the skew is five).
        var now = DateTimeOffset.UtcNow;
        var current = new List<FeedbackEvent>();
        for (var s = 0; s < 4; s++)
        {
            current.AddRange(new SessionScript("other", $"o-{s}", "ou", now.AddSeconds(s))
                .Shown($"o{s}", "Now?", "Now.").Add(new ThumbGiven($"o{s}", ThumbValue.Up)).Events);
        }
        current.Add(new FeedbackEvent("o-ahead", "other", "o-0", "ou", now.AddMinutes(4), new GenerationCopied("o0")));
        // One partition, so both apps share it; "other" comes after every second backfill record.
        var mixed = new List<FeedbackEvent>();
        for (var i = 0; i < backfill.Count; i++)
        {
            mixed.Add(backfill[i]);
            if (i % 2 == 1 && i / 2 < current.Count) mixed.Add(current[i / 2]);
        }
        mixed.AddRange(current.Skip(backfill.Count / 2));
        Assert.Equal(backfill.Count + current.Count, mixed.Count);
        using var shared = new PipelineHarness(fixture.Cluster, partitions: 1);
        shared.Produce(mixed);
        var sharedLoop = await shared.ExtractAsync();

        Assert.Equal(0, sharedLoop.Progress.DeadLettered);
        Assert.Equal(mixed.Count, sharedLoop.Counters.EventsProcessed);
        Assert.Equal(0, sharedLoop.Counters.LateEngagementEvents);
        Assert.Equal(aloneLoop.Counters.SessionsTimedOut, sharedLoop.Counters.SessionsTimedOut);
        var pairs = await DatasetReader.ReadPairsAsync(alone.DataRoot, "demo");
        Assert.Equal(KnownSessions.ExpectedPairsBySignal, pairs.GroupBy(p => p.Signal).ToDictionary(g => g.Key, g => g.Count()));
        Assert.Equal(await DescribeAsync(alone.DataRoot), await DescribeAsync(shared.DataRoot));
        Assert.NotEmpty(await DatasetReader.ReadEngagementAsync(alone.DataRoot, "demo"));
    }

    [Fact]
    public async Task A_quiet_apps_open_session_is_resolved_on_record_time_and_its_rows_are_written()
    {
        // Per-app clocks alone would leave app "quiet"'s open session (no session.ended) and its window open until that
        // app sent again, holding the partition's commit. Its records were written two hours ago (CreateTime), the live
        // app's now: record time bounds how long the quiet app's state stays open.
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        var quiet = new SessionScript("quiet", "q-1", "qu", KnownSessions.Start)
            .Shown("q1", "Old question", "Old answer").Add(new ThumbGiven("q1", ThumbValue.Up)).Events;
        var now = DateTimeOffset.UtcNow;
        Produce(harness, quiet, now.AddHours(-2));
        Produce(harness, new SessionScript("live", "l-1", "lu", now).Shown("l1", "Now?", "Now.").End().Events, now);

        var loop = await harness.ExtractAsync();

        Assert.Equal(0, loop.Progress.DeadLettered);
        Assert.Equal(1, loop.Counters.SessionsTimedOut);
        var label = Assert.Single(await DatasetReader.ReadLabelsAsync(harness.DataRoot, "quiet"));
        Assert.Equal(("q1", true), (label.GenerationId, label.Label));
        var window = Assert.Single(await DatasetReader.ReadEngagementAsync(harness.DataRoot, "quiet"));
        Assert.Equal((1L, 1L), (window.Shown, window.ThumbsUp));
    }

    [Fact]
    public async Task Extract_with_a_horizon_dead_letters_events_older_than_it_and_refuses_a_bad_value()
    {
        // The horizon is off by default (the suites and the demo date events months back); `extract` sets it.
        fixture.Cluster.CreateTopic(KafkaTopics.Events, 1, 3);
        fixture.Cluster.CreateTopic(KafkaTopics.DeadLetters, 1, 3);
        var old = KnownSessions.All();
        var now = DateTimeOffset.UtcNow;
        var fresh = new SessionScript("fresh", "f-1", "fu", now.AddMinutes(-1)).Shown("f1", "Now?", "Now.").Add(new ThumbGiven("f1", ThumbValue.Up)).End().Events;
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = fixture.Cluster.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var evt in old.Concat(fresh))
            {
                var report = await producer.ProduceAsync(KafkaTopics.Events, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(evt.SessionId), Value = EventJson.SerializeToUtf8Bytes(evt) });
                Assert.Equal(PersistenceStatus.Persisted, report.Status);
            }
        }
        using var folder = new TempFolder("horizon");

        using (var refused = CliProcess.Start("extract", "--bootstrap", fixture.Cluster.BootstrapServers, "--data", folder.Path, "--max-event-age-days", "0"))
        {
            Assert.Equal(2, await refused.ExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("--max-event-age-days must be", refused.Output, StringComparison.Ordinal);
        }
        using var extract = CliProcess.Start("extract", "--bootstrap", fixture.Cluster.BootstrapServers, "--data", folder.Path, "--until-idle", "3", "--max-event-age-days", "30");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));

        Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");
        Assert.Contains($"processed {fresh.Count}, duplicates 0, dead-lettered {old.Count},", extract.Output, StringComparison.Ordinal);
        var label = Assert.Single(await DatasetReader.ReadLabelsAsync(folder.Path, "fresh"));
        Assert.Equal(("f1", true), (label.GenerationId, label.Label));
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "datasets", "demo")));
    }

    /// <summary>Produces events with a chosen CreateTime, as any Kafka client may.</summary>
    private static void Produce(PipelineHarness harness, IEnumerable<FeedbackEvent> events, DateTimeOffset createTime)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = harness.Cluster.BootstrapServers, Acks = Acks.All, EnableIdempotence = true }).Build();
        foreach (var evt in events)
        {
            var report = producer.ProduceAsync(harness.Topic, new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(evt.SessionId),
                Value = EventJson.SerializeToUtf8Bytes(evt),
                Timestamp = new Timestamp(createTime.UtcDateTime, TimestampType.CreateTime),
            }).GetAwaiter().GetResult();
            Assert.Equal(PersistenceStatus.Persisted, report.Status);
        }
    }

    /// <summary>Every row of app "demo", every column that identifies or counts, sorted.</summary>
    private static async Task<string[]> DescribeAsync(string dataRoot)
    {
        var pairs = await DatasetReader.ReadPairsAsync(dataRoot, "demo");
        var labels = await DatasetReader.ReadLabelsAsync(dataRoot, "demo");
        var windows = await DatasetReader.ReadEngagementAsync(dataRoot, "demo");
        string[] rows =
        [
            .. pairs.Select(p => $"pair {p.PairId} {p.Signal} {p.ChosenGenerationId}>{p.RejectedGenerationId} {p.Chosen.Content}|{p.Rejected.Content} {p.SessionId} {p.UserId} {p.CreatedAt:O}"),
            .. labels.Select(l => $"label {l.LabelId} {l.GenerationId} {l.UserId} {l.Label} {l.CreatedAt:O}"),
            .. windows.Select(w => "window " + w),
        ];
        return [.. rows.Order(StringComparer.Ordinal)];
    }
}
