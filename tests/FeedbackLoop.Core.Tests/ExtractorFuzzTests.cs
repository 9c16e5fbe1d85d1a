using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// The extractor's half of the fuzz test (the parser's half is <c>ParserFuzzTests</c> in the contract tests): a seeded
/// stream of 100,000 events that the parser accepts but that no well-behaved app would send — ids that collide across
/// apps and sessions, signals for generations never shown or shown twice, regenerate cycles, choices naming strangers,
/// ratings and dwell at their limits, event times anywhere from year 1 to 9999 and records arriving in any order — run
/// through <see cref="Extractor.Process"/> with sweeps, caught-up marks, partition hand-overs and drains in between.
/// Nothing may throw, and the open sessions stay under their cap (the pair and session budgets have tests of their own).
/// </summary>
public sealed class ExtractorFuzzTests
{
    private const int Events = 100_000;
    private static readonly string[] Apps = ["demo", "a", "b9"];
    private static readonly string[] Roles = ["user", "assistant", "system"];

    [Fact]
    public void A_hundred_thousand_hostile_but_valid_events_never_make_the_extractor_throw_or_break_a_budget()
    {
        var random = new Random(20261130);
        var settings = new ExtractionSettings { MaxOpenSessionsPerPartition = 500, MaxEntriesPerSession = 2_000, MaxSessionBytes = 256 * 1024 };
        var extractor = new Extractor(settings);
        var offsets = new long[4];
        var pairs = 0;
        var accepted = 0;
        for (var i = 0; i < Events; i++)
        {
            var partition = random.Next(offsets.Length);
            var evt = RoundTrip(Generate(random));
            if (evt is null) continue;
            accepted++;
            var recordTime = random.Next(10) == 0 ? (DateTimeOffset?)null : Time(random);
            try
            {
                extractor.Process(partition, offsets[partition]++, evt, recordTime);
                switch (random.Next(200))
                {
                    case 0: extractor.Sweep(); break;
                    case 1: extractor.MarkCaughtUp(partition); break;
                    case 2: extractor.DropPartition(partition); break;
                    case 3: _ = extractor.CommittableOffset(partition, offsets[partition]); break;
                }
                if (i % 1_000 == 0) pairs += extractor.Output.TakeAll().Pairs.Count;
            }
            catch (Exception ex)
            {
                Assert.Fail($"event {i} ({evt.Type}, app {evt.AppId}, session {evt.SessionId}, at {evt.OccurredAt:O}) threw {ex.GetType().Name}: {ex.Message}");
            }
            Assert.True(extractor.OpenSessions <= settings.MaxOpenSessionsPerPartition * offsets.Length, $"event {i}: {extractor.OpenSessions} open sessions");
        }
        extractor.Sweep();
        pairs += extractor.Output.TakeAll().Pairs.Count;

        // Most generated events are valid (the stream exercises the extractor, not the parser), and they reach the rules.
        Assert.True(accepted > Events * 9 / 10, $"only {accepted} of {Events} events parsed");
        Assert.True(pairs > 0, "the stream produced no pair at all, so the rules were never reached");
    }

    /// <summary>Serialized and parsed again, so the extractor sees exactly what the parser lets through (null: refused).</summary>
    private static FeedbackEvent? RoundTrip(FeedbackEvent evt) =>
        EventJson.TryParse(EventJson.SerializeToUtf8Bytes(evt), out var parsed, out _) ? parsed : null;

    private static FeedbackEvent Generate(Random random)
    {
        var app = Apps[random.Next(Apps.Length)];
        var session = "s" + random.Next(40);
        var data = Data(random);
        return new FeedbackEvent("e" + random.Next(Events / 2), app, session, "u" + random.Next(5), Time(random), data);
    }

    private static EventData Data(Random random)
    {
        var id = Generation(random);
        return random.Next(12) switch
        {
            0 or 1 or 2 => new GenerationShown(id, "m" + random.Next(3), Input(random), Text(random),
                CandidateSetId: random.Next(3) == 0 ? "set" + random.Next(4) : null, Position: random.Next(3) == 0 ? random.Next(10) : null,
                LatencyMs: random.Next(2) == 0 ? random.NextInt64(0, long.MaxValue) : null),
            3 => new ThumbGiven(id, random.Next(2) == 0 ? ThumbValue.Up : ThumbValue.Down),
            4 => new RatingGiven(id, random.Next(1, 6)),
            5 => new GenerationRegenerated(id, Generation(random)),
            6 => new GenerationEdited(id, Text(random)),
            7 => new GenerationCopied(id),
            8 => random.Next(2) == 0 ? new GenerationAccepted(id) : new GenerationRejected(id),
            9 => new ComparisonChosen("set" + random.Next(4), id),
            10 => new GenerationDwell(id, random.NextInt64(0, long.MaxValue)),
            _ => SessionEnded.Instance,
        };
    }

    // Few ids, so signals, chains and choices keep meeting each other (and themselves).
    private static string Generation(Random random) => "g" + random.Next(12);

    private static List<ConversationTurn> Input(Random random) =>
        [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => new ConversationTurn(Roles[random.Next(Roles.Length)], Text(random)))];

    private static string Text(Random random) => random.Next(4) switch
    {
        0 => "",
        1 => "answer " + random.Next(5),
        2 => new string((char)('a' + random.Next(26)), random.Next(1, 300)),
        _ => "x\u00e9\ud83d\ude00" + random.Next(100),
    };

    /// <summary>Mostly close together (so sessions and windows form), sometimes anywhere in the representable range.</summary>
    private static DateTimeOffset Time(Random random) => random.Next(50) switch
    {
        0 => DateTimeOffset.MinValue.AddSeconds(random.Next(120)),
        1 => DateTimeOffset.MaxValue.AddSeconds(-random.Next(120)),
        2 => new DateTimeOffset(random.NextInt64(DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero),
        _ => new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero).AddSeconds(random.Next(-7_200, 7_200)),
    };
}
