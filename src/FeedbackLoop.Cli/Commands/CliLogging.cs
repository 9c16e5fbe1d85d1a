using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Cli.Commands;

/// <summary>One logging setup for every command: warnings and up, to stderr, so stdout stays for results.</summary>
internal static class CliLogging
{
    public static ILoggerFactory Create(bool verbose = false) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
