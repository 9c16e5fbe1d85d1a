using FeedbackLoop.Contracts;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Pipelines;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// What the trigger does with a DatasetCommitted for an app that is not registered (issue 10, finding 5): nothing but
/// count it and, once per app id per process, log it with the way to register the app. The id is the sender's choice,
/// so the log names it escaped and hashed, and the set of ids logged is capped (a sender inventing ids cannot grow it;
/// ids past the cap are only counted).
/// </summary>
internal sealed partial class UnregisteredAppCommits(PipelineDefinition pipeline, OrchestrationTelemetry telemetry, ILogger<UnregisteredAppCommits> logger)
{
    /// <summary>The most distinct app ids logged per process.</summary>
    public const int MaxLogged = 1000;

    private readonly Lock _lock = new();
    private readonly HashSet<string> _logged = new(StringComparer.Ordinal);

    /// <summary>Counts one ignored commit of <paramref name="appId"/> and logs the first of each id.</summary>
    public void Ignore(string appId)
    {
        telemetry.UnregisteredAppIgnored();
        lock (_lock)
        {
            if (_logged.Count >= MaxLogged || !_logged.Add(appId)) return;
        }
        // An id that breaks the app-id rule (a bus message is input too) is shown by its hash alone.
        var shown = AppIds.IsValid(appId) ? LogText.Escape(appId) : "(not a valid app id)";
        LogIgnored(logger, shown, LogText.Hash(appId), pipeline.HowToRegister);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Datasets of app {AppId} ({AppHash}) were committed, but the app is not registered: no run starts for it. To let it train, {HowToRegister} (logged once per app)")]
    private static partial void LogIgnored(ILogger logger, string appId, string appHash, string howToRegister);
}
