using System.Security.Authentication;
using FeedbackLoop.Contracts.Bus;
using MassTransit;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>Queue names of the loop's commands and events (the same on every transport).</summary>
public static class LoopQueues
{
    /// <summary>Where DatasetCommitted is handled (the retrain trigger).</summary>
    public const string Triggers = "feedbackloop-triggers";

    /// <summary>The prefix of the offer queues: one per worker pool (<see cref="JobsOf"/>).</summary>
    public const string Jobs = "feedbackloop-jobs";

    /// <summary>Where the workers' claims, heartbeats and results go to the orchestrator.</summary>
    public const string JobReports = "feedbackloop-job-reports";

    /// <summary>Where the offers of <paramref name="pool"/>'s jobs wait for a worker of that pool (its workers compete here).</summary>
    /// <exception cref="ArgumentException">Not a valid pool name (<see cref="JobPools.IsValid"/>).</exception>
    public static string JobsOf(string pool) =>
        JobPools.IsValid(pool) ? $"{Jobs}-{pool}" : throw new ArgumentException($"\"{pool}\" is not a pool name: {JobPools.Rule}", nameof(pool));
}

/// <summary>
/// Puts a MassTransit bus on the loop's transport (in memory, or RabbitMQ with the loop's delivery guarantees) and starts
/// it. Every role's bus goes through here, so all of them get the same guarantees.
/// </summary>
public static class LoopTransports
{
    /// <summary>
    /// Puts the bus on <paramref name="transport"/> with the loop's delivery guarantees, then lets
    /// <paramref name="configureEndpoints"/> add the receive endpoints (<c>LoopBus.ConfigureLoopEndpoints</c>, or a
    /// role's subset of them). Every endpoint retries a failing message at <see cref="LoopTransport.RetryIntervals"/>
    /// and then moves it to its <c>_error</c> queue. On RabbitMQ, queues and exchanges are durable, messages are
    /// persistent, and a send or publish completes only once the broker has confirmed it.
    /// </summary>
    public static void UsingLoopTransport(
        this IBusRegistrationConfigurator bus, LoopTransport transport, Action<IBusRegistrationContext, IReceiveConfigurator> configureEndpoints)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(configureEndpoints);
        if (transport.Broker is not { } broker)
        {
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseLoopRetry();
                configureEndpoints(context, cfg);
            });
            return;
        }

        bus.UsingRabbitMq((context, cfg) =>
        {
            cfg.Host(broker.Host, (ushort)broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.User);
                h.Password(broker.Password);
                h.PublisherConfirmation = true;
                h.RequestedConnectionTimeout(broker.StartTimeout);
                if (broker.UseTls)
                {
                    var check = new BrokerCertificateCheck(broker.TrustedAuthorities());
                    h.UseSsl(s =>
                    {
                        // The name the certificate must carry is the host the URI names.
                        s.ServerName = broker.Host;
                        s.Protocol = SslProtocols.Tls12 | SslProtocols.Tls13;
                        s.CertificateValidationCallback = check.Validate;
                    });
                }
            });
            // Receive endpoints declare durable, non-auto-delete queues and exchanges and sends are persistent:
            // MassTransit's defaults on RabbitMQ, which a run needs to survive a broker restart (the RabbitMQ
            // tests check both on a real broker).
            cfg.UseLoopRetry();
            configureEndpoints(context, cfg);
        });
    }

    /// <summary>
    /// Starts the bus; on RabbitMQ, fails with <see cref="LoopTransportException"/> (saying which broker and what
    /// to check) when the broker does not accept the connection within <see cref="RabbitMqSettings.StartTimeout"/>,
    /// instead of retrying forever.
    /// </summary>
    public static Task StartLoopBusAsync(this IBusControl bus, LoopTransport transport, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(transport);
        return transport.Broker is { } broker ? RabbitMqStart.StartAsync(bus, broker, cancellationToken) : bus.StartAsync(cancellationToken);
    }

    /// <summary>
    /// One line that says why a bus on <paramref name="transport"/> could not start and what to check (for RabbitMQ:
    /// which broker, and whether the login, the virtual host or the connection failed), for a host whose start failed.
    /// </summary>
    public static string ExplainStartFailure(this LoopTransport transport, Exception fault)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(fault);
        var text = transport.Broker is { } broker ? RabbitMqStart.Explain(broker, fault) : fault.Message;
        return text.ReplaceLineEndings(" ");
    }

    private static void UseLoopRetry(this IBusFactoryConfigurator cfg) =>
        cfg.UseMessageRetry(r => r.Intervals([.. LoopTransport.RetryIntervals]));
}
