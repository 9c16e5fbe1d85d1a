using System.Net.Http.Headers;
using System.Text;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Transports;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>The pure parts of talking to a collector: reading its answers and cutting batches into requests.</summary>
public sealed class CollectorProtocolTests
{
    [Theory]
    [InlineData(200, nameof(CollectorVerdict.Delivered))]
    [InlineData(202, nameof(CollectorVerdict.Delivered))]
    [InlineData(204, nameof(CollectorVerdict.Delivered))]
    [InlineData(408, nameof(CollectorVerdict.Retryable))]
    [InlineData(429, nameof(CollectorVerdict.Retryable))]
    [InlineData(500, nameof(CollectorVerdict.Retryable))]
    [InlineData(502, nameof(CollectorVerdict.Retryable))]
    [InlineData(503, nameof(CollectorVerdict.Retryable))]
    [InlineData(504, nameof(CollectorVerdict.Retryable))]
    [InlineData(599, nameof(CollectorVerdict.Retryable))]
    [InlineData(501, nameof(CollectorVerdict.Refused))]
    [InlineData(505, nameof(CollectorVerdict.Refused))]
    [InlineData(400, nameof(CollectorVerdict.Refused))]
    [InlineData(401, nameof(CollectorVerdict.Refused))]
    [InlineData(403, nameof(CollectorVerdict.Refused))]
    [InlineData(404, nameof(CollectorVerdict.Refused))]
    [InlineData(413, nameof(CollectorVerdict.Refused))]
    [InlineData(422, nameof(CollectorVerdict.Refused))]
    [InlineData(301, nameof(CollectorVerdict.Retryable))] // not followed: a moved collector is fixed by its operator
    [InlineData(308, nameof(CollectorVerdict.Retryable))]
    public void Status_classes(int status, string verdict) => Assert.Equal(verdict, CollectorResponse.Classify(status).ToString());

    [Theory]
    [InlineData("120", 120)]
    [InlineData("0", 0)]
    [InlineData("Sat, 01 Mar 2025 12:00:30 GMT", 30)] // an HTTP-date 30 s after "now"
    [InlineData("Sat, 01 Mar 2025 11:59:00 GMT", 0)] // a date in the past: no wait
    public void Retry_After_as_delta_seconds_or_HTTP_date(string header, int expectedSeconds)
    {
        var now = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), CollectorResponse.RetryAfter(RetryConditionHeaderValue.Parse(header), now));
    }

    [Fact]
    public void No_Retry_After_header_means_no_wait_asked() => Assert.Null(CollectorResponse.RetryAfter(null, DateTimeOffset.UnixEpoch));

    [Theory]
    // Three 10-byte events: "[a,b]" is 23 bytes, "[a,b,c]" 34.
    [InlineData(34, "0,1,2")]
    [InlineData(33, "0,1|2")]
    [InlineData(23, "0,1|2")]
    [InlineData(22, "0|1|2")]
    [InlineData(12, "0|1|2")]
    public void Requests_are_filled_in_order_up_to_the_body_limit(int maxBodyBytes, string expected)
    {
        var batch = Enumerable.Range(0, 3).Select(i => Raw(new string((char)('a' + i), 10))).ToArray();

        var plan = CollectorBatches.Plan(batch, maxBodyBytes);

        Assert.Equal(expected, string.Join("|", plan.Requests.Select(r => string.Join(",", r))));
        Assert.Empty(plan.Unsendable);
        Assert.All(plan.Requests, r => Assert.True(CollectorBatches.BodyLength(batch, r) <= maxBodyBytes));
    }

    [Fact]
    public void The_body_is_the_events_bytes_joined_by_commas_inside_brackets()
    {
        SerializedEvent[] batch = [Raw("""{"a":1}"""), Raw("""{"b":2}"""), Raw("""{"c":3}""")];
        using var body = new MemoryStream();

        CollectorBatches.WriteBody(body, batch, [0, 2]);

        Assert.Equal("""[{"a":1},{"c":3}]""", Encoding.UTF8.GetString(body.ToArray()));
        Assert.Equal(body.Length, CollectorBatches.BodyLength(batch, [0, 2]));
    }

    [Fact]
    public void Empty_and_over_32_KiB_events_are_set_aside_and_the_rest_keep_their_order()
    {
        SerializedEvent[] batch = [Raw("x"), Raw(""), Raw(new string('y', EventLimits.MaxEventBytes + 1)), Raw(new string('z', EventLimits.MaxEventBytes))];

        var plan = CollectorBatches.Plan(batch);

        Assert.Equal([1, 2], plan.Unsendable);
        Assert.Equal([0, 3], Assert.Single(plan.Requests));
    }

    [Fact]
    public void An_empty_batch_makes_no_request() => Assert.Empty(CollectorBatches.Plan([]).Requests);

    private static SerializedEvent Raw(string json) => new("e", "s", Encoding.UTF8.GetBytes(json));
}
