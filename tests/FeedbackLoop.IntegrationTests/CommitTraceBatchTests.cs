using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>How one batch's record headers become its commit span's parent, links and counts (no broker needed).</summary>
public sealed class CommitTraceBatchTests
{
    [Fact]
    public void The_first_traced_record_is_the_parent_and_other_distinct_spans_are_links_once_each()
    {
        var batch = new CommitTraceBatch();
        var (a, b) = (NewContext(), NewContext());

        Assert.Equal(CommitTraceBatch.Outcome.None, batch.Offer(null));
        Assert.Equal(CommitTraceBatch.Outcome.None, batch.Offer([]));
        Assert.Equal(CommitTraceBatch.Outcome.None, batch.Offer(new Headers { { "other", [1] } }));
        foreach (var context in new[] { a, a, b, a, b })
        {
            Assert.Equal(CommitTraceBatch.Outcome.Traced, batch.Offer(With(TraceParent.Format(context))));
        }
        var trace = batch.Take();

        Assert.True(trace.HasParent);
        Assert.Equal((a.TraceId, a.SpanId), (trace.Parent.TraceId, trace.Parent.SpanId));
        Assert.True(trace.Parent.IsRemote);
        var link = Assert.Single(trace.Links!);
        Assert.Equal((b.TraceId, b.SpanId), (link.Context.TraceId, link.Context.SpanId));
        Assert.Equal(5, trace.Traced);
        Assert.Equal(0, trace.LinksDropped);

        var empty = batch.Take();
        Assert.False(empty.HasParent);
        Assert.Null(empty.Links);
        Assert.Equal(0, empty.Traced);
    }

    [Fact]
    public void Links_stop_at_the_cap_and_the_rest_are_counted()
    {
        var batch = new CommitTraceBatch();
        var extra = 10;
        for (var i = 0; i < 1 + ExtractionTelemetry.MaxCommitLinks + extra; i++) batch.Offer(With(TraceParent.Format(NewContext())));

        var trace = batch.Take();

        Assert.Equal(ExtractionTelemetry.MaxCommitLinks, trace.Links!.Count);
        Assert.Equal(extra, trace.LinksDropped);
        Assert.Equal(1 + ExtractionTelemetry.MaxCommitLinks + extra, trace.Traced);
    }

    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331")]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01")]
    [InlineData("")]
    public void A_malformed_header_is_invalid_and_changes_nothing(string value)
    {
        var batch = new CommitTraceBatch();

        Assert.Equal(CommitTraceBatch.Outcome.Invalid, batch.Offer(With(value)));
        var trace = batch.Take();

        Assert.False(trace.HasParent);
        Assert.Equal(0, trace.Traced);
    }

    [Fact]
    public void Two_traceparent_headers_on_one_record_are_invalid_even_when_both_are_well_formed()
    {
        var batch = new CommitTraceBatch();
        var headers = With(TraceParent.Format(NewContext()));
        headers.Add(TraceParent.HeaderName, Encoding.ASCII.GetBytes(TraceParent.Format(NewContext())));

        Assert.Equal(CommitTraceBatch.Outcome.Invalid, batch.Offer(headers));
        Assert.False(batch.Take().HasParent);
    }

    [Fact]
    public void A_header_with_no_value_is_invalid()
    {
        var headers = new Headers { { TraceParent.HeaderName, null } };

        Assert.Equal(CommitTraceBatch.Outcome.Invalid, new CommitTraceBatch().Offer(headers));
    }

    private static Headers With(string traceParent) => new() { { TraceParent.HeaderName, Encoding.UTF8.GetBytes(traceParent) } };

    private static ActivityContext NewContext() => new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
}
