using System.CommandLine;
using FeedbackLoop.Cli.Commands;
using Spectre.Console;

// A table piped into a file or another program keeps its full width instead of wrapping at 80 columns.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 4096;
}

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

// Signals are the host's (serve, extract, demo) or GracefulStop's (broker): System.CommandLine's own handling would end
// the process with 130/143 two seconds after a signal, before a bounded graceful stop had finished.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
