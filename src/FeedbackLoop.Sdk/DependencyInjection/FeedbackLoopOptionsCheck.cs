using System.Text.RegularExpressions;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Spool;
using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>Runs <see cref="FeedbackLoopOptionsCheck"/> when the host starts; logs its warnings, fails start on its problems.</summary>
internal sealed class FeedbackLoopOptionsValidator(IServiceProvider services) : IValidateOptions<FeedbackLoopOptions>
{
    public ValidateOptionsResult Validate(string? name, FeedbackLoopOptions options)
    {
        var configuration = services.GetService(typeof(FeedbackLoopConfiguration)) as FeedbackLoopConfiguration ?? new FeedbackLoopConfiguration(null);
        var (problems, warnings) = FeedbackLoopOptionsCheck.Run(options, configuration, services.GetService(typeof(FeedbackTransportFactory)) as FeedbackTransportFactory);
        if (warnings.Count > 0 && services.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggers)
        {
            var logger = loggers.CreateLogger("FeedbackLoop.Sdk");
            foreach (var warning in warnings) FeedbackLoopOptionsLog.Ignored(logger, warning);
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

internal static partial class FeedbackLoopOptionsLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "FeedbackLoop configuration: {Warning}")]
    public static partial void Ignored(ILogger logger, string warning);
}

/// <summary>
/// Every problem of the bound options at once, each as <c>path: problem</c> with the configuration path of the
/// section it was bound from; "missing" when a required value is unset. Options of a transport that is not the one
/// chosen are warnings (they are ignored), never problems.
/// </summary>
internal static partial class FeedbackLoopOptionsCheck
{
    // .NET configuration reads a bare number as days ("5" is 5.00:00:00), which nobody writing FlushInterval=5 means.
    private static readonly string[] DurationKeys = ["FlushInterval", "ShutdownTimeout", "Retry:InitialBackoff", "Retry:MaxBackoff", "Retry:TimeBudget", "Http:RequestTimeout"];

    public static string NoTransport(string path) =>
        $"{path}:Http:Endpoint: missing; set it, or choose a transport with UseKafka() or UseTransport() on AddFeedbackLoop's builder";

    public static (List<string> Problems, List<string> Warnings) Run(FeedbackLoopOptions o, FeedbackLoopConfiguration configuration, FeedbackTransportFactory? transport)
    {
        var path = configuration.Path;
        var problems = new List<string>();
        var warnings = new List<string>();
        void Add(string key, string problem) => problems.Add($"{path}:{key}: {problem}");
        // A switched-off SDK sends nothing, so nothing it would use can be wrong; the rest is checked once it is on.
        if (!o.Enabled) return (problems, warnings);

        foreach (var key in DurationKeys)
        {
            if (configuration.Raw(key) is { } raw && BareNumber().IsMatch(raw))
                Add(key, $"'{raw.Trim()}' would be read as {raw.Trim()} days; write durations as .NET configuration does: 00:00:05 (5 seconds), 00:02:00 (2 minutes), 1.00:00:00 (1 day)");
        }

        var client = FeedbackLoopOptionsMapper.ToCheckedClientOptions(o);
        foreach (var problem in client.Problems()) Add((problem.ParamName ?? "?").Replace('.', ':'), FirstLine(problem.Message));

        if (!string.IsNullOrWhiteSpace(o.Spool.Directory) && SpoolFolder.StartRefusal(o.Spool.Directory) is { } refusal) Add("Spool:Directory", refusal);

        CheckRate(o.Sampling.Rate, "Sampling:Rate", Add);
        foreach (var (type, rate) in o.Sampling.ByEventType)
        {
            if (!EventTypes.All.Contains(type)) Add($"Sampling:ByEventType:{type}", $"unknown event type (known: {string.Join(", ", EventTypes.All)})");
            else CheckRate(rate, $"Sampling:ByEventType:{type}", Add);
        }

        if (o.UserIdSecret is { } secret)
        {
            try
            {
                _ = UserIdHasher.FromSecret(secret);
            }
            catch (ArgumentException ex)
            {
                Add("UserIdSecret", FirstLine(ex.Message)); // the rule, never the value
            }
        }

        CheckTransport(o, path, transport, Add, warnings);
        return (problems, warnings);
    }

    private static void CheckTransport(FeedbackLoopOptions o, string path, FeedbackTransportFactory? transport, Action<string, string> add, List<string> warnings)
    {
        if (transport is not null)
        {
            foreach (var (key, problem) in transport.Check(o)) add(key, problem);
            if (o.Http.Endpoint is not null) warnings.Add($"{path}:Http:Endpoint is set, but the transport is {transport.Name}; the Http options are ignored");
            return;
        }
        if (o.Http.Endpoint is not { } endpoint)
        {
            add("Http:Endpoint", string.IsNullOrWhiteSpace(o.Kafka.BootstrapServers)
                ? "missing; set it, or choose a transport with UseKafka() or UseTransport() on AddFeedbackLoop's builder"
                : "missing; Kafka:BootstrapServers is set, but Kafka is chosen only by UseKafka() on AddFeedbackLoop's builder");
            return;
        }
        if (!string.IsNullOrWhiteSpace(o.Kafka.BootstrapServers))
            warnings.Add($"{path}:Kafka:BootstrapServers is set, but the transport is HTTP; the Kafka options are ignored");
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
            add("Http:Endpoint", "must be an absolute http(s) URL");
        else if (HttpTransportOptions.LeavesMachineInClear(endpoint) && !o.Http.AllowInsecureHttp)
            add("Http:Endpoint", $"http:// only to a loopback host; use https://, or set {path}:Http:AllowInsecureHttp for a network you trust end to end");
        if (string.IsNullOrWhiteSpace(o.Http.WriteKey)) add("Http:WriteKey", "missing (required with Http:Endpoint)");
        if (o.Http.RequestTimeout <= TimeSpan.Zero) add("Http:RequestTimeout", "must be positive");
    }

    private static void CheckRate(double rate, string key, Action<string, string> add)
    {
        if (double.IsNaN(rate) || rate < 0 || rate > 1) add(key, "must be between 0 and 1");
    }

    // ArgumentException appends " (Parameter 'x')" on a new line or at the end; the path already says it.
    private static string FirstLine(string message)
    {
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return (cut >= 0 ? message[..cut] : message).Split('\n')[0].Trim();
    }

    [GeneratedRegex(@"^\s*[+-]?\d+\s*$")]
    private static partial Regex BareNumber();
}
