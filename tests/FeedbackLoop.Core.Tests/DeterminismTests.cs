using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>The same events always give the same rows, whoever processes them and however often it sweeps.</summary>
public sealed class DeterminismTests
{
    /// <summary>Every rule, two partitions, three minutes of engagement; built afresh on each call.</summary>
    private static List<(int Partition, FeedbackEvent Event)> EverythingAtOnce()
    {
        var scripts = new (int Partition, SessionScript Script)[]
        {
            (0, new SessionScript("s-compare", "u1")
                .Shown("a", candidateSet: "cs", variant: "x").Shown("b", candidateSet: "cs", variant: "y").Shown("c", candidateSet: "cs")
                .Chose("cs", "b").Dwelled("b", 1200).Ended()),
            (0, new SessionScript("s-edit", "u2", start: SessionScript.T0.AddSeconds(20))
                .Edited("e1", "The capital of France is Paris.").Shown("e1", "The capital of France is Paris, a city on the Seine.")
                .ThumbUp("e1").Rated("e1", 2)),
            (1, new SessionScript("s-regen", "u3", start: SessionScript.T0.AddSeconds(40))
                .Shown("r1", model: "model-b").Regenerated("r1", "r2").Shown("r2", model: "model-b").Regenerated("r2", "r3")
                .Shown("r3", model: "model-c").After(TimeSpan.FromMinutes(1)).Copied("r3").Dwelled("r3", 4000)),
            (1, new SessionScript("s-thumbs", "u4", start: SessionScript.T0.AddSeconds(50))
                .Shown("t1").Shown("t2").Shown("t3", question: "Capital of Spain?")
                .ThumbUp("t1").ThumbDown("t2").ThumbDown("t3").Rated("t3", 5).After(TimeSpan.FromMinutes(2)).Ended()),
        };

        // Interleave the sessions by event time, as a partition would carry them.
        return scripts
            .SelectMany(s => s.Script.Events.Select((e, i) => (s.Partition, Event: e, Index: i)))
            .OrderBy(x => x.Event.OccurredAt).ThenBy(x => x.Event.SessionId, StringComparer.Ordinal).ThenBy(x => x.Index)
            .Select(x => (x.Partition, x.Event))
            .ToList();
    }

    private static Extractor Process(List<(int Partition, FeedbackEvent Event)> events, bool sweepAfterEachEvent = false)
    {
        var extractor = new Extractor();
        var offsets = new Dictionary<int, long>();
        foreach (var (partition, evt) in events)
        {
            var offset = offsets.GetValueOrDefault(partition);
            offsets[partition] = offset + 1;
            extractor.Process(partition, offset, evt);
            if (sweepAfterEachEvent) extractor.Sweep();
        }
        extractor.ResolveAll();
        return extractor;
    }

    private static string[] Json<T>(IEnumerable<T> rows) => rows.Select(r => JsonSerializer.Serialize(r)).ToArray();

    [Fact]
    public void Two_fresh_extractors_given_the_same_events_produce_identical_output()
    {
        var first = Process(EverythingAtOnce());
        var second = Process(EverythingAtOnce());

        Assert.NotEmpty(first.Output.Pairs);
        Assert.NotEmpty(first.Output.Labels);
        Assert.NotEmpty(first.Output.Windows);
        Assert.Equal(Json(first.Output.Pairs), Json(second.Output.Pairs));
        Assert.Equal(Json(first.Output.Labels), Json(second.Output.Labels));
        Assert.Equal(Json(first.Output.Windows), Json(second.Output.Windows));
    }

    [Fact]
    public void The_mixed_session_stream_yields_the_rows_each_rule_promises()
    {
        var extractor = Process(EverythingAtOnce());

        Assert.Equal(
            Rows.Sorted("comparison b>a", "comparison b>c", "edit s-edit-e1>e1", "regenerate r3>r1", "regenerate r3>r2", "thumbs t1>t2"),
            Rows.PairsOf(extractor));
        Assert.Equal(
            Rows.Sorted("e1 u2 True", "t1 u4 True", "t2 u4 False", "t3 u4 False"),
            Rows.LabelsOf(extractor));
    }

    [Fact]
    public void Sweeping_after_every_event_changes_when_rows_appear_not_which()
    {
        var once = Process(EverythingAtOnce());
        var often = Process(EverythingAtOnce(), sweepAfterEachEvent: true);

        Assert.Equal(Json(once.Output.Pairs).Order(StringComparer.Ordinal), Json(often.Output.Pairs).Order(StringComparer.Ordinal));
        Assert.Equal(Json(once.Output.Labels).Order(StringComparer.Ordinal), Json(often.Output.Labels).Order(StringComparer.Ordinal));
        Assert.Equal(Json(once.Output.Windows).Order(StringComparer.Ordinal), Json(often.Output.Windows).Order(StringComparer.Ordinal));
    }
}
