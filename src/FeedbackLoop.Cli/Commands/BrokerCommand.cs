using System.CommandLine;

namespace FeedbackLoop.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var command = new Command("broker", "Run the embedded Kafka-protocol cluster standalone.");
        command.SetAction(_ => 0);
        return command;
    }
}
