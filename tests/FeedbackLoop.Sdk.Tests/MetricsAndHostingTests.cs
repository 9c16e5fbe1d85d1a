using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FeedbackLoop.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>The meter OpenTelemetry sees, and the client as a host registers and validates it.</summary>
public sealed class MetricsAndHostingTests
{
    [Fact]
    public async Task The_FeedbackLoop_Sdk_meter_reports_received_sent_dropped_by_reason_and_queue_depth()
    {
        var appId = "meter-" + Guid.NewGuid().ToString("N")[..8];
        var transport = new HangingTransport();
        var client = new FeedbackClient(new FeedbackClientOptions { AppId = appId, MaxQueueLength = 10, MaxBatchSize = 4, FlushInterval = TimeSpan.FromHours(1), Retry = null }, transport);
        for (var i = 0; i < 15; i++) client.Copied("s1", "u1", "g" + i);

        var seen = Collect(appId);

        Assert.Equal(15, seen[("feedbackloop.sdk.events.received", "")]);
        Assert.Equal(15 - client.Counters.Queued, seen[("feedbackloop.sdk.events.dropped", "queue_full")]);
        Assert.InRange(client.Counters.Queued, 10, 14);
        Assert.Equal(0, seen[("feedbackloop.sdk.events.dropped", "oversized")]);
        Assert.InRange(seen[("feedbackloop.sdk.queue.depth", "")], 6, 10); // the stuck sender may hold one batch of 4
        Assert.Equal(0, seen[("feedbackloop.sdk.events.sent", "")]);
        await client.ShutdownAsync(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task The_host_binds_the_FeedbackLoop_section_and_the_client_delivers_through_the_chosen_transport()
    {
        // The sender is held inside the transport with the first event, so the queue's bound is all that
        // decides how many of the next 200 are accepted (otherwise the sender may drain some meanwhile).
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new RecordingTransport(gate: gate.Task);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FeedbackLoop:AppId"] = "shop",
            ["FeedbackLoop:MaxQueueLength"] = "123",
            ["FeedbackLoop:MaxBatchSize"] = "1",
            ["FeedbackLoop:Sampling:Rate"] = "1",
            ["FeedbackLoop:Redaction:Phone"] = "false",
        });
        builder.Services.AddFeedbackLoop(builder.Configuration).UseTransport(_ => transport);

        using (var host = builder.Build())
        {
            await host.StartAsync();
            var client = host.Services.GetRequiredService<FeedbackClient>();
            Assert.Equal("shop", client.AppId);
            client.Edited("s1", "u1", "g1", "mail a@b.io or call 030 1234567");
            await Eventually.HoldsAsync(() => transport.Calls == 1, TimeSpan.FromSeconds(30));
            for (var i = 0; i < 200; i++) client.Copied("s1", "u1", "g" + i);
            Assert.Equal(1 + 123, client.Counters.Queued); // the one in the sender's hand, then the bound from configuration
            Assert.Equal(200 - 123, client.Counters.Dropped(DropReason.QueueFull));
            gate.SetResult();
            await host.StopAsync();
        } // disposing the host shuts the client down, which delivers what was queued

        var events = transport.Parsed();
        Assert.Equal(1 + 123, events.Count);
        Assert.Equal("mail [email] or call 030 1234567", Assert.IsType<GenerationEdited>(events[0].Data).EditedOutput);
        Assert.True(transport.Disposed);
    }

    [Theory]
    [InlineData("FeedbackLoop:AppId", "Not Valid", "FeedbackLoop:AppId")]
    [InlineData("FeedbackLoop:MaxQueueLength", "0", "FeedbackLoop:MaxQueueLength")]
    [InlineData("FeedbackLoop:Retry:MaxBackoff", "00:00:00.001", "FeedbackLoop:Retry:MaxBackoff")]
    [InlineData("FeedbackLoop:Spool:MaxBytes", "10", "FeedbackLoop:Spool:MaxBytes")]
    [InlineData("FeedbackLoop:Sampling:Rate", "2", "FeedbackLoop:Sampling:Rate")]
    [InlineData("FeedbackLoop:UserIdSecret", "short", "FeedbackLoop:UserIdSecret")]
    public async Task A_bad_option_fails_start_and_names_the_option(string key, string value, string named)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FeedbackLoop:AppId"] = "shop",
            ["FeedbackLoop:Spool:Directory"] = "/var/lib/shop/feedbackloop-spool",
            [key] = value,
        });
        builder.Services.AddFeedbackLoop(builder.Configuration).UseTransport(_ => new RecordingTransport());
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(named + ":", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_transport_start_fails_saying_how_to_choose_one()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["FeedbackLoop:AppId"] = "shop" });
        builder.Services.AddFeedbackLoop(builder.Configuration);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FeedbackLoop:Http:Endpoint", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseKafka()", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Reads every observable instrument of the SDK meter once, for one app.</summary>
    private static Dictionary<(string Instrument, string Reason), long> Collect(string appId)
    {
        var seen = new ConcurrentDictionary<(string, string), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "FeedbackLoop.Sdk") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? app = null, reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "app_id") app = tag.Value as string;
                if (tag.Key == "reason") reason = tag.Value as string;
            }
            if (app == appId) seen[(instrument.Name, reason ?? "")] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return new Dictionary<(string, string), long>(seen);
    }
}
