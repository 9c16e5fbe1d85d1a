using FeedbackLoop.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>Synchronous disposal: a plain ServiceProvider (no host) disposes the client without throwing and delivers what was queued.</summary>
public sealed class DisposeTests
{
    [Fact]
    public void Disposing_a_plain_service_provider_delivers_the_queued_event_and_does_not_throw()
    {
        var transport = new RecordingTransport();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FeedbackLoop:AppId"] = "shop",
            ["FeedbackLoop:FlushInterval"] = "01:00:00", // only disposal can send it
        }).Build();
        var services = new ServiceCollection();
        services.AddFeedbackLoop(configuration).UseTransport(_ => transport);
        var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<FeedbackClient>();
        Assert.True(client.Thumb("s1", "u1", "g1", ThumbValue.Up));

        provider.Dispose();

        Assert.Equal(1, client.Counters.Sent);
    }
}
