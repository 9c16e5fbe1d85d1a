using System.Globalization;
using System.Net.Sockets;
using MassTransit;
using RabbitMQ.Client.Exceptions;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// Starts a bus on RabbitMQ within the settings' deadline, or says why it could not. Left alone, MassTransit
/// keeps reconnecting to an unreachable broker and its start never returns.
/// </summary>
internal static class RabbitMqStart
{
    public static async Task StartAsync(IBusControl bus, RabbitMqSettings broker, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(broker.StartTimeout);
        try
        {
            await bus.StartAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Otherwise the bus goes on reconnecting in the background.
            await bus.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw new LoopTransportException(Explain(broker, ex), ex);
        }
    }

    /// <summary>What went wrong and what to check, from the faults MassTransit and the RabbitMQ client report.</summary>
    internal static string Explain(RabbitMqSettings broker, Exception fault)
    {
        var causes = Causes(fault).ToList();
        var last = causes.LastOrDefault(c => c is not OperationCanceledException);
        var explanation = Diagnose(broker, causes);
        return last is null ? explanation : $"{explanation} Last error: {last.Message}";
    }

    private static string Diagnose(RabbitMqSettings broker, List<Exception> causes)
    {
        var where = $"RabbitMQ at {broker.Endpoint}";
        if (causes.Any(c => c is AuthenticationFailureException))
            return $"{where} refused the login of user '{broker.User}': check the user and password (rabbitmqctl list_users on the broker).";
        if (causes.Any(c => c.Message.Contains("NOT_ALLOWED", StringComparison.Ordinal) || c.Message.Contains("vhost", StringComparison.OrdinalIgnoreCase)))
        {
            return $"{where} did not let user '{broker.User}' open virtual host '{broker.VirtualHost}': check that it exists and that the user "
                + $"has permissions on it (rabbitmqctl list_vhosts; rabbitmqctl list_permissions -p {broker.VirtualHost}).";
        }
        if (causes.Any(c => c is System.Security.Authentication.AuthenticationException))
        {
            return $"{where} did not prove its identity over TLS: its certificate must name '{broker.Host}' and chain to "
                + (broker.CaFile is null ? "a root this machine trusts" : $"a certificate in {RabbitMqSettings.CaFileVariable} ({broker.CaFile})")
                + $", and TLS must be its listener on port {broker.Port} (rabbitmq-diagnostics listeners).";
        }

        var socket = causes.OfType<SocketException>().FirstOrDefault();
        if (socket?.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return $"nothing accepted a connection at {broker.Endpoint}: check that RabbitMQ is running there (rabbitmq-diagnostics status) "
                + $"and that {broker.Port} is its AMQP port (rabbitmq-diagnostics listeners).";
        }
        if (socket?.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain)
            return $"the RabbitMQ host name '{broker.Host}' does not resolve: check the host in the RabbitMQ settings.";
        // Any other socket error may come at once, so the message names it rather than a wait that may not have happened.
        if (socket is not null)
        {
            return $"connecting to {where} failed with the socket error {socket.SocketErrorCode}: check that the host and port are right, "
                + "that they are reachable from here (firewall), and that RabbitMQ runs there.";
        }
        var seconds = broker.StartTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
        return $"{where} did not accept a connection within {seconds} s: check that the host and port are right, "
            + "that they are reachable from here (firewall), and that RabbitMQ runs there.";
    }

    private static IEnumerable<Exception> Causes(Exception fault)
    {
        var pending = new Stack<Exception>([fault]);
        while (pending.TryPop(out var current))
        {
            yield return current;
            if (current is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.Reverse()) pending.Push(inner);
            else if (current.InnerException is { } inner)
                pending.Push(inner);
        }
    }
}
