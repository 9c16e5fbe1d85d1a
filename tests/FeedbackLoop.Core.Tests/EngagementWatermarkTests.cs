using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// The engagement watermark skips its scan over every partition wherever the scan could not move it (the witness in
/// <c>Extractor.AdvanceEngagement</c>). Seeded streams over six partitions that run at different speeds and three apps, with
/// caught-up marks, sweeps and partition hand-overs in between, check after every event what a scan on every event
/// guaranteed: the app's stored watermark is at least what a scan over every partition gives now.
/// </summary>
public sealed class EngagementWatermarkTests
{
    private const int Partitions = 6;
    private static readonly string[] Apps = ["a", "b", "c"];
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void After_every_event_the_stored_watermark_is_at_least_what_a_scan_gives(int seed)
    {
        var random = new Random(seed);
        var extractor = new Extractor(new ExtractionSettings());
        var clocks = Enumerable.Repeat(T0, Partitions).ToArray();
        var offsets = new long[Partitions];
        var skipsPossible = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var partition = random.Next(Partitions);
            // Partitions move at different speeds, so the one that bounds an app's watermark keeps changing.
            clocks[partition] = clocks[partition].AddMilliseconds(random.Next(0, 200 * (partition + 1)));
            var app = Apps[random.Next(Apps.Length)];
            var generation = "g" + random.Next(50);
            EventData data = random.Next(3) == 0
                ? new ThumbGiven(generation, ThumbValue.Up)
                : new GenerationShown(generation, "m1", [new ConversationTurn("user", "q")], "answer");
            var evt = new FeedbackEvent($"e{i}", app, $"s{partition}-{random.Next(200)}", "u", clocks[partition].AddSeconds(-random.Next(5)), data);
            var before = extractor.EngagementWatermarks(app).Stored;

            Assert.Equal(ProcessOutcome.Processed, extractor.Process(partition, offsets[partition]++, evt, clocks[partition]));

            var (stored, scanned) = extractor.EngagementWatermarks(app);
            Assert.True(stored >= scanned, $"event {i} (app {app}, partition {partition}): stored {stored:O}, a scan gives {scanned:O}");
            if (before == stored) skipsPossible++;
            switch (random.Next(100))
            {
                case 0: extractor.MarkCaughtUp(random.Next(Partitions)); break;
                case 1: extractor.Sweep(); break;
                case 2: extractor.DropPartition(random.Next(Partitions)); break;
            }
        }

        // Most events leave the watermark where it was (another partition bounds it): the case the skip is for.
        Assert.True(skipsPossible > 10_000, $"only {skipsPossible} of 20,000 events left the watermark as it was");
    }
}
