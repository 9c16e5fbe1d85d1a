using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// Beside ChatClientBuilder's own Use... methods, in the namespace apps already import for them.
namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="FeedbackChatClient"/> to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static partial class FeedbackChatClientBuilderExtensions
{
    /// <summary>
    /// Reports every response of the pipeline as <c>generation.shown</c>. Uses <paramref name="feedback"/>, or else the
    /// <see cref="IFeedbackClient"/> registered with <c>services.AddFeedbackLoop(...)</c> (a no-op one while the SDK is
    /// switched off; responses still carry a generation id then). When that client cannot be built
    /// because the SDK is misconfigured, the pipeline works without reporting and the problem is logged: telemetry
    /// settings never take the app's model calls down with them.
    /// </summary>
    public static ChatClientBuilder UseFeedbackLoop(this ChatClientBuilder builder, IFeedbackClient? feedback = null, Action<FeedbackChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new FeedbackChatClientOptions();
        configure?.Invoke(options);
        return builder.Use((inner, services) =>
        {
            if (feedback is not null) return new FeedbackChatClient(inner, feedback, options);
            IFeedbackClient? registered;
            try
            {
                registered = (IFeedbackClient?)services.GetService(typeof(IFeedbackClient));
            }
            catch (Exception ex) when (ex is OptionsValidationException or ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                if (services.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggers) Misconfigured(loggers.CreateLogger("FeedbackLoop.Sdk.AI"), ex.Message);
                return inner;
            }
            return new FeedbackChatClient(inner, registered
                ?? throw new InvalidOperationException("UseFeedbackLoop: pass an IFeedbackClient or register one with services.AddFeedbackLoop(...)."), options);
        });
    }

    // The message lists option paths and rules, never values of secrets (FeedbackLoopOptionsCheck writes none).
    [LoggerMessage(EventId = 40, Level = LogLevel.Error, Message = "FeedbackLoop is misconfigured, so this chat client reports nothing until it is fixed: {Problems}")]
    private static partial void Misconfigured(ILogger logger, string problems);
}
