using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>amqps://</c> against the test node's real TLS listener (a certificate for 127.0.0.1 signed by a CA made for the
/// node): the connection is made only when the broker's certificate chains to the CA the loop was told to trust.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqTlsTests(RabbitMqBroker broker) : IDisposable
{
    private readonly TempFolder _folder = new("tls");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task With_the_brokers_ca_the_bus_connects_over_tls_and_carries_a_message()
    {
        var settings = broker.TlsSettings(await broker.NewVirtualHostAsync("tls"));
        var transport = LoopTransport.RabbitMq(settings);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var provider = new ServiceCollection().AddLogging()
            .AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, cfg) =>
                cfg.ReceiveEndpoint("tls-probe", e => e.Handler<TlsProbe>(context =>
                {
                    received.TrySetResult(context.Message.Text);
                    return Task.CompletedTask;
                }))))
            .BuildServiceProvider(true);
        var bus = provider.GetRequiredService<IBusControl>();

        await bus.StartLoopBusAsync(transport);
        try
        {
            await bus.Publish(new TlsProbe("over tls"));
            Assert.Equal("over tls", await received.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            await bus.StopAsync();
        }

        Assert.StartsWith("amqps://", settings.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_another_ca_the_connection_is_refused_and_the_error_says_to_check_the_certificate()
    {
        var plain = await broker.NewVirtualHostAsync("tls-wrong");
        using var other = new TestCertificateAuthority("Some other CA");
        var otherCa = _folder.Combine("other-ca.pem");
        other.WriteCertificate(otherCa);
        var settings = broker.TlsSettings(plain) with { CaFile = otherCa, StartTimeout = TimeSpan.FromSeconds(5) };

        var error = await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));

        Assert.Contains("did not prove its identity over TLS", error.Message, StringComparison.Ordinal);
        Assert.Contains(otherCa, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(plain.Password, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_ca_file_a_private_ca_is_not_trusted()
    {
        var plain = await broker.NewVirtualHostAsync("tls-system");
        var settings = broker.TlsSettings(plain) with { CaFile = null, StartTimeout = TimeSpan.FromSeconds(5) };

        var error = await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));

        Assert.Contains("did not prove its identity over TLS", error.Message, StringComparison.Ordinal);
        Assert.Contains("a root this machine trusts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_to_the_plain_amqp_port_fails_instead_of_falling_back_to_clear_text()
    {
        var plain = await broker.NewVirtualHostAsync("tls-plainport");
        var settings = new RabbitMqSettings(plain.Host, plain.Port, plain.VirtualHost, plain.User, plain.Password)
        {
            UseTls = true, CaFile = broker.TlsCaFile, StartTimeout = TimeSpan.FromSeconds(5),
        };

        await Assert.ThrowsAsync<LoopTransportException>(() => StartAsync(settings));
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
}

/// <summary>A message sent over the TLS connection.</summary>
public sealed record TlsProbe(string Text);
