using System.Text;
using FeedbackLoop.Sdk.Transports;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>
/// What the SDK makes of the collector's answer to a batch (issue 12): a 200 lists the events refused one by one, which
/// are final (counted rejected, never resent), and a collector's base URL is posted to <c>/v1/batch</c>.
/// </summary>
public sealed class CollectorAnswerTests
{
    private const string Key = "wk_test_5f1c0e7a9b";

    [Theory]
    [InlineData("", 3, "")]
    [InlineData("not json", 3, "")]
    [InlineData("""{"accepted":3,"rejected":[]}""", 3, "")]
    [InlineData("""{"accepted":2,"rejected":[{"index":1,"event_id":"e1","field":"v","reason":"required field is missing"}]}""", 3, "1")]
    [InlineData("""{"rejected":[{"reason":"x","index":0},{"index":2}],"accepted":1}""", 3, "0,2")]
    [InlineData("""{"accepted":1,"rejected":[{"index":0},{"index":0}]}""", 3, "0")] // repeated: once
    [InlineData("""{"accepted":1,"rejected":[{"index":3},{"index":-1},{"index":"1"}]}""", 3, "")] // out of range or not a number
    [InlineData("""{"accepted":1,"rejected":{"index":1}}""", 3, "")] // not a list
    [InlineData("""[{"index":1}]""", 3, "")] // not an object
    [InlineData("""{"accepted":2,"rejected":[{"index":1}""", 3, "")] // cut short
    public void Rejected_indexes_of_a_200_answer(string answer, int sent, string expected) =>
        Assert.Equal(expected, string.Join(",", CollectorResponse.RejectedIndexes(Encoding.UTF8.GetBytes(answer), sent).Order()));

    [Fact]
    public async Task Events_refused_one_by_one_in_a_200_count_as_rejected_and_are_not_sent_again()
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(200,
            Body: """{"accepted":3,"rejected":[{"index":1,"event_id":null,"field":"v","reason":"required field is missing"},{"index":4,"event_id":"x","field":"$","reason":"r"}]}"""));
        await using var transport = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = collector.Endpoint, WriteKey = Key });

        var result = await transport.SendAsync(TestEvents.Batch(5), CancellationToken.None);

        Assert.Equal(new SendResult(3, Rejected: 2), result);
        Assert.Single(collector.Requests);
    }

    [Theory]
    [InlineData("", "/v1/batch")]
    [InlineData("/", "/v1/batch")]
    [InlineData("/ingest/v1/batch", "/ingest/v1/batch")]
    public async Task A_base_url_posts_to_v1_batch_and_a_full_url_is_used_as_it_is(string path, string expectedPath)
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        var endpoint = new Uri(collector.Endpoint.GetLeftPart(UriPartial.Authority) + path);
        await using var transport = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = endpoint, WriteKey = Key });

        await transport.SendAsync(TestEvents.Batch(1), CancellationToken.None);

        Assert.Equal(expectedPath, Assert.Single(collector.Requests).Path);
    }
}
