using System.CommandLine;
using FeedbackLoop.Cli;
using Spectre.Console;

// A table piped into a file or another program keeps its full width instead of wrapping at 80 columns.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 4096;
}

var root = CliCommands.Root();

// Signals are the host's (serve, extract, demo) or GracefulStop's (broker): System.CommandLine's own handling would end
// the process with 130/143 two seconds after a signal, before a bounded graceful stop had finished.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
