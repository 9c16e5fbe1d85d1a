using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

public sealed class DuplicateDeliveryTests
{
    [Fact]
    public void Event_delivered_twice_with_the_same_id_is_processed_once()
    {
        var script = new SessionScript().Shown("g1").ThumbUp("g1").Redelivered().Ended();
        var extractor = new Extractor();

        var outcomes = script.Feed(extractor);
        extractor.ResolveAll();

        Assert.Equal([ProcessOutcome.Processed, ProcessOutcome.Processed, ProcessOutcome.Duplicate, ProcessOutcome.Processed], outcomes);
        Assert.Equal(1, extractor.Counters.DuplicateEvents);
        Assert.Equal(3, extractor.Counters.EventsProcessed);
        Assert.Single(extractor.Output.Labels);
        Assert.Equal(1, Assert.Single(extractor.Output.Windows).ThumbsUp);
    }

    [Fact]
    public void Shown_event_delivered_twice_is_counted_once_in_engagement()
    {
        var extractor = new SessionScript().Shown("g1").Redelivered().RunToEnd();

        Assert.Equal(1, Assert.Single(extractor.Output.Windows).Shown);
    }

    [Fact]
    public void Choice_delivered_twice_with_the_same_id_yields_one_pair()
    {
        var extractor = new SessionScript()
            .Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs").Chose("cs", "a").Redelivered()
            .RunToEnd();

        Assert.Equal(["comparison a>b"], Rows.PairsOf(extractor));
    }

    [Fact]
    public void Thumbs_sent_again_with_new_event_ids_yield_one_pair_and_one_label_per_generation()
    {
        var extractor = new SessionScript()
            .Shown("a").Shown("b").ThumbUp("a").SentAgain().ThumbDown("b").SentAgain().Ended()
            .Run();

        Assert.Equal(0, extractor.Counters.DuplicateEvents);
        var pair = Assert.Single(extractor.Output.Pairs);
        Assert.Equal(StableId.Pair(PairSignals.Thumbs, "a", "b"), pair.PairId);
        Assert.Equal(Rows.Sorted("a u1 True", "b u1 False"), Rows.LabelsOf(extractor));
        Assert.Equal(
            Rows.Sorted(StableId.Label("a", "u1"), StableId.Label("b", "u1")),
            extractor.Output.Labels.Select(l => l.LabelId).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Copy_sent_again_with_a_new_event_id_yields_one_regenerate_pair()
    {
        var extractor = new SessionScript()
            .Shown("g1").Regenerated("g1", "g2").Shown("g2").Copied("g2").SentAgain().Accepted("g2").Rated("g2", 5)
            .RunToEnd();

        var pair = Assert.Single(extractor.Output.Pairs);
        Assert.Equal(StableId.Pair(PairSignals.Regenerate, "g2", "g1"), pair.PairId);
    }

    [Fact]
    public void Choice_sent_again_with_a_new_event_id_yields_one_pair()
    {
        var extractor = new SessionScript()
            .Shown("a", candidateSet: "cs").Shown("b", candidateSet: "cs").Chose("cs", "a").SentAgain()
            .RunToEnd();

        var pair = Assert.Single(extractor.Output.Pairs);
        Assert.Equal(StableId.Pair(PairSignals.Comparison, "a", "b"), pair.PairId);
    }

    [Fact]
    public void Same_event_id_on_another_partition_is_not_a_duplicate()
    {
        var script = new SessionScript().Shown("g1");
        var extractor = new Extractor();

        Assert.Equal([ProcessOutcome.Processed], script.Feed(extractor, partition: 0));
        Assert.Equal([ProcessOutcome.Processed], script.Feed(extractor, partition: 1));
    }
}
