using System.CommandLine;
using FeedbackLoop.Cli.Commands;

var root = new RootCommand("FeedbackLoop: what users do with model outputs → preference datasets → better models.");
root.Subcommands.Add(BrokerCommand.Create());
root.Subcommands.Add(ExtractCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ModelsCommand.Create());
root.Subcommands.Add(JobsCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
