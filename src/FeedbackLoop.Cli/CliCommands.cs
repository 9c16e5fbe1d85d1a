using System.CommandLine;
using FeedbackLoop.Cli.Commands;

namespace FeedbackLoop.Cli;

/// <summary>The command tree, built in one place so tests can parse a command line (a compose file's) without running it.</summary>
internal static class CliCommands
{
    public static RootCommand Root()
    {
        var root = new RootCommand("FeedbackLoop: what users do with model outputs → preference datasets → better models.");
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(ExtractCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(JobsCommand.Create());
        root.Subcommands.Add(RunsCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(DatasetsCommand.Create());
        root.Subcommands.Add(ReviewCommand.Create());
        root.Subcommands.Add(ReviewersCommand.Create());
        root.Subcommands.Add(TopicsCommand.Create());
        root.Subcommands.Add(PipelinesCommand.Create());
        return root;
    }
}
