using System.Net;
using System.Net.Sockets;
using System.Text;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>
/// The HTTP transport against a real collector on loopback: what goes on the wire, how each answer is
/// read, and what it reports when part of a batch got through.
/// </summary>
public sealed class HttpFeedbackTransportTests
{
    private const string Key = "wk_test_5f1c0e7a9b";

    [Fact]
    public async Task Posts_the_batch_as_one_gzip_json_array_of_the_events_own_bytes_with_the_write_key_as_bearer_token()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        await using var transport = Transport(collector);
        var batch = TestEvents.Batch(5);

        var result = await transport.SendAsync(batch, CancellationToken.None);

        Assert.Equal(new SendResult(5), result);
        var request = Assert.Single(collector.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("Bearer " + Key, request.Authorization);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("gzip", request.ContentEncoding);
        Assert.Matches(@"^feedbackloop-sdk/\d+\.\d+", request.UserAgent);
        // Byte for byte the events' JSON: the transport never re-serializes.
        Assert.Equal(batch.Select(e => Encoding.UTF8.GetString(e.Json.Span)), request.Elements().Select(e => Encoding.UTF8.GetString(e)));
        Assert.Equal(batch.Select(e => e.EventId), request.Events().Select(e => e.EventId));
    }

    [Fact]
    public async Task Without_compression_the_body_is_the_plain_json_array()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        await using var transport = Transport(collector, new() { Endpoint = collector.Endpoint, WriteKey = Key, Compress = false });
        var batch = TestEvents.Batch(3);

        await transport.SendAsync(batch, CancellationToken.None);

        var request = Assert.Single(collector.Requests);
        Assert.Null(request.ContentEncoding);
        Assert.Equal(request.Body.Length, request.WireLength);
        Assert.Equal("[" + string.Join(",", batch.Select(e => Encoding.UTF8.GetString(e.Json.Span))) + "]", Encoding.UTF8.GetString(request.Body));
    }

    [Fact]
    public async Task A_batch_over_500_KiB_is_posted_in_order_as_several_requests_each_within_the_limit()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        await using var transport = Transport(collector);
        var batch = TestEvents.Batch(60, editedChars: 20_000);
        Assert.True(batch.Sum(e => e.Json.Length) > 2 * EventLimits.MaxBatchBytes);

        var result = await transport.SendAsync(batch, CancellationToken.None);

        Assert.Equal(new SendResult(60), result);
        Assert.InRange(collector.Requests.Count, 3, 4);
        Assert.All(collector.Requests, r => Assert.InRange(r.Body.Length, 1, EventLimits.MaxBatchBytes));
        Assert.Equal(batch.Select(e => e.EventId), collector.Requests.SelectMany(r => r.Events()).Select(e => e.EventId));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    [InlineData(413)]
    [InlineData(422)]
    [InlineData(501)]
    [InlineData(505)]
    public async Task A_refusal_returns_the_events_as_rejected_and_logs_the_status_without_the_key(int status)
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(status));
        var logger = new RecordingLogger();
        await using var transport = Transport(collector, logger: logger);

        var result = await transport.SendAsync(TestEvents.Batch(4), CancellationToken.None);

        Assert.Equal(new SendResult(0, Rejected: 4), result);
        Assert.Single(collector.Requests);
        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    [InlineData(307)]
    public async Task A_transient_answer_throws_a_retryable_fault_for_the_whole_batch_with_the_status(int status)
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(status));
        await using var transport = Transport(collector);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(TestEvents.Batch(4), CancellationToken.None));

        Assert.True(fault.Retryable);
        Assert.Equal(status, fault.StatusCode);
        Assert.Null(fault.Undelivered);
        Assert.Null(fault.RetryAfter);
        Assert.Single(collector.Requests);
    }

    [Fact]
    public async Task Retry_After_in_seconds_is_passed_on_with_the_fault()
    {
        await using var collector = await CollectorStub.StartAsync(_ => new CollectorReply(429, RetryAfter: "7"));
        await using var transport = Transport(collector);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(TestEvents.Batch(1), CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(7), fault.RetryAfter);
    }

    [Fact]
    public async Task When_a_later_request_of_the_batch_fails_the_fault_lists_only_its_events_as_undelivered()
    {
        await using var collector = await CollectorStub.StartAsync(n => n == 0 ? CollectorReply.Ok : new CollectorReply(503, RetryAfter: "3"));
        await using var transport = Transport(collector);
        var batch = TestEvents.Batch(30, editedChars: 20_000);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(batch, CancellationToken.None));

        Assert.Equal(2, collector.Requests.Count);
        var firstCount = collector.Requests[0].Events().Count;
        Assert.InRange(firstCount, 1, 29);
        Assert.Equal(Enumerable.Range(firstCount, 30 - firstCount), fault.Undelivered);
        Assert.Equal(503, fault.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), fault.RetryAfter);
        Assert.True(fault.Retryable);
    }

    [Fact]
    public async Task A_refused_request_before_a_transient_fault_stays_undelivered_since_the_fault_cannot_report_refusals()
    {
        // 1st request delivered, 2nd refused, 3rd transient. Leaving the refused ones out of Undelivered
        // would have them counted as delivered; a resend gets them refused (and counted) again instead.
        await using var collector = await CollectorStub.StartAsync(n => n switch { 0 => CollectorReply.Ok, 1 => new CollectorReply(400), _ => CollectorReply.Unavailable });
        await using var transport = Transport(collector);
        var batch = TestEvents.Batch(60, editedChars: 20_000);

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(batch, CancellationToken.None));

        Assert.Equal(3, collector.Requests.Count);
        var firstCount = collector.Requests[0].Events().Count;
        Assert.Equal(Enumerable.Range(firstCount, 60 - firstCount), fault.Undelivered);
    }

    [Fact]
    public async Task Events_that_are_empty_or_over_32_KiB_are_refused_without_costing_the_others_their_request()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        await using var transport = Transport(collector);
        var good = TestEvents.Batch(2);
        var oversized = TestEvents.Batch(1, editedChars: EventLimits.MaxEventBytes)[0];
        var empty = new SerializedEvent("e", "s", ReadOnlyMemory<byte>.Empty);

        var result = await transport.SendAsync([good[0], oversized, empty, good[1]], CancellationToken.None);

        Assert.Equal(new SendResult(2, Rejected: 2), result);
        Assert.Equal(good.Select(e => e.EventId), Assert.Single(collector.Requests).Events().Select(e => e.EventId));
    }

    [Fact]
    public async Task An_unreachable_collector_is_a_retryable_fault()
    {
        await using var transport = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri($"http://127.0.0.1:{ClosedPort()}/v1/events"), WriteKey = Key });

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(() => transport.SendAsync(TestEvents.Batch(2), CancellationToken.None));

        Assert.True(fault.Retryable);
        Assert.Null(fault.StatusCode);
        Assert.IsType<HttpRequestException>(fault.InnerException);
        Assert.DoesNotContain(Key, fault.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_collector_that_does_not_answer_within_the_request_timeout_is_a_retryable_fault()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.NoAnswer);
        await using var transport = Transport(collector, new() { Endpoint = collector.Endpoint, WriteKey = Key, RequestTimeout = TimeSpan.FromMilliseconds(300) });

        var fault = await Assert.ThrowsAsync<FeedbackTransportException>(
            () => transport.SendAsync(TestEvents.Batch(2), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(fault.Retryable);
        Assert.Null(fault.StatusCode);
        Assert.IsAssignableFrom<OperationCanceledException>(fault.InnerException);
        Assert.DoesNotContain(Key, fault.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_callers_cancellation_cancels_the_request_in_flight()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.NoAnswer);
        await using var transport = Transport(collector);
        using var cancel = new CancellationTokenSource();

        var send = transport.SendAsync(TestEvents.Batch(2), cancel.Token);
        await Eventually.HoldsAsync(() => collector.Requests.Count == 1);
        await cancel.CancelAsync();

        // WaitAsync's deadline throws TimeoutException, which this assertion would not accept.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_callers_HttpClient_is_left_open_and_an_owned_one_is_released()
    {
        await using var collector = await CollectorStub.StartAsync(_ => CollectorReply.Ok);
        using var http = new HttpClient();
        var borrowing = new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = collector.Endpoint, WriteKey = Key }, http);
        var owning = Transport(collector);
        await borrowing.SendAsync(TestEvents.Batch(1), CancellationToken.None);

        await borrowing.DisposeAsync();
        await owning.DisposeAsync();

        using var stillWorks = await http.PostAsync(collector.Endpoint, new StringContent("[]"));
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => owning.SendAsync(TestEvents.Batch(1), CancellationToken.None));
    }

    [Theory]
    [InlineData("events", Key, "Endpoint")]
    [InlineData("ftp://collector.example/v1/events", Key, "Endpoint")]
    [InlineData("https://user:" + Key + "@collector.example/v1/events", Key, "Endpoint")]
    [InlineData("https://collector.example/v1/events", "", "WriteKey")]
    [InlineData("https://collector.example/v1/events", "wk with space", "WriteKey")]
    [InlineData("https://collector.example/v1/events", Key + "\r\nX-Injected: 1", "WriteKey")]
    public void Bad_options_fail_at_construction_naming_the_option_but_never_quoting_the_key(string endpoint, string key, string option)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new HttpFeedbackTransport(new HttpTransportOptions { Endpoint = new Uri(endpoint, UriKind.RelativeOrAbsolute), WriteKey = key }));

        Assert.Equal(option, error.ParamName);
        Assert.DoesNotContain(Key, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(2 * 24 * 3600 * 1000.0)]
    public void A_request_timeout_that_is_not_positive_or_over_a_day_is_refused(double milliseconds)
    {
        var options = new HttpTransportOptions { Endpoint = new Uri("https://collector.example/v1/events"), WriteKey = Key, RequestTimeout = TimeSpan.FromMilliseconds(milliseconds) };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new HttpFeedbackTransport(options));

        Assert.Equal("RequestTimeout", error.ParamName);
    }

    [Fact]
    public void The_options_text_leaves_the_key_out()
    {
        var options = new HttpTransportOptions { Endpoint = new Uri("https://collector.example/v1/events"), WriteKey = Key };

        var text = options.ToString();

        Assert.Contains("collector.example", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, text, StringComparison.Ordinal);
    }

    private static HttpFeedbackTransport Transport(CollectorStub collector, HttpTransportOptions? options = null, ILogger? logger = null) =>
        new(options ?? new HttpTransportOptions { Endpoint = collector.Endpoint, WriteKey = Key }, httpClient: null, logger, TimeProvider.System);

    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
