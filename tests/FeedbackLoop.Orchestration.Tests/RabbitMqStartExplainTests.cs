using System.Net.Sockets;
using FeedbackLoop.Orchestration.Transport;

namespace FeedbackLoop.Orchestration.Tests;

/// <summary>
/// What a failed start on RabbitMQ says, from the faults the client reports: each kind of fault gets its own diagnosis,
/// and only a start that ran out of time speaks of the time it waited.
/// </summary>
public sealed class RabbitMqStartExplainTests
{
    private static readonly RabbitMqSettings Broker = new("127.0.0.1", 47_383, "/", "loop", "s3cret-pw") { StartTimeout = TimeSpan.FromSeconds(20) };

    public static TheoryData<string, string> Faults => new()
    {
        { "refused", "nothing accepted a connection at 127.0.0.1:47383" },
        { "unknown host", "the RabbitMQ host name '127.0.0.1' does not resolve" },
        { "address in use", "connecting to RabbitMQ at 127.0.0.1:47383 failed with the socket error AddressAlreadyInUse" },
        { "reset", "connecting to RabbitMQ at 127.0.0.1:47383 failed with the socket error ConnectionReset" },
        { "timed out", "RabbitMQ at 127.0.0.1:47383 did not accept a connection within 20 s" },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public void Each_fault_is_explained_by_its_own_cause(string fault, string expected)
    {
        Exception cause = fault switch
        {
            "refused" => new SocketException((int)SocketError.ConnectionRefused),
            "unknown host" => new SocketException((int)SocketError.HostNotFound),
            "address in use" => new SocketException((int)SocketError.AddressAlreadyInUse),
            "reset" => new SocketException((int)SocketError.ConnectionReset),
            _ => new TimeoutException("the start timed out"),
        };
        // As the client nests them: the bus's fault wraps the connection's, which wraps the socket's.
        var explanation = RabbitMqStart.Explain(Broker, new InvalidOperationException("bus start faulted", new IOException("connect failed", cause)));

        Assert.StartsWith(expected, explanation, StringComparison.Ordinal);
        Assert.EndsWith($"Last error: {cause.Message}", explanation, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", explanation, StringComparison.Ordinal);
    }
}
