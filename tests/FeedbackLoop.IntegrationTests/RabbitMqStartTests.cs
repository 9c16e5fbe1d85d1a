using System.Net;
using System.Net.Sockets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>A bus that cannot reach its broker fails to start with a message saying where and what to check, instead of hanging.</summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqStartTests(RabbitMqBroker broker)
{
    [Fact]
    public async Task Starting_where_nothing_listens_fails_naming_the_host_port_and_what_to_check()
    {
        var port = UnusedPort();
        var settings = new RabbitMqSettings("127.0.0.1", port, "/", "loop", "s3cret-pw") { StartTimeout = TimeSpan.FromSeconds(3) };

        var error = await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));

        Assert.Contains($"nothing accepted a connection at 127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("check that RabbitMQ is running there", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Starting_with_a_wrong_password_fails_naming_the_user_but_not_the_password()
    {
        var good = await broker.NewVirtualHostAsync("login");
        var settings = new RabbitMqSettings(good.Host, good.Port, good.VirtualHost, good.User, "wrong-pw") { StartTimeout = TimeSpan.FromSeconds(10) };

        var error = await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));

        Assert.Contains($"RabbitMQ at 127.0.0.1:{good.Port} refused the login of user '{good.User}'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Starting_on_a_virtual_host_that_does_not_exist_fails_naming_it()
    {
        var good = broker.Settings;
        var settings = new RabbitMqSettings(good.Host, good.Port, "no-such-vhost", good.User, good.Password) { StartTimeout = TimeSpan.FromSeconds(3) };

        var error = await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));

        Assert.Contains("virtual host 'no-such-vhost'", error.Message, StringComparison.Ordinal);
    }

    private static async Task StartAsync(RabbitMqSettings settings)
    {
        var transport = LoopTransport.RabbitMq(settings);
        await using var provider = new ServiceCollection().AddLogging()
            .AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, _) => { })).BuildServiceProvider(true);
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartLoopBusAsync(transport);
        await bus.StopAsync(); // not reached when the start fails, as the tests expect
    }

    private static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
