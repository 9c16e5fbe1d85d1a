using System.CommandLine;
using FeedbackLoop.Cli.Commands;

var root = new RootCommand("FeedbackLoop: user feedback on model outputs → preference datasets → better models.");
root.Subcommands.Add(BrokerCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
