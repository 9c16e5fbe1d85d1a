using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ThumbValue = FeedbackLoop.Contracts.ThumbValue;

namespace FeedbackLoop.Sample;

/// <summary>One conversation: ask, dislike the answer, regenerate, like the second, end the session, stop the app.</summary>
internal sealed partial class SupportConversation(IChatClient chat, FeedbackClient feedback, IHostApplicationLifetime lifetime, ILogger<SupportConversation> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The app's own ids: every call names its session, so feedback sent under it joins the shown answers.
        var sessionId = "session-" + Guid.NewGuid().ToString("N");
        const string UserId = "user-42";
        var options = new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = sessionId, [FeedbackChatClient.UserIdKey] = UserId } };

        var first = await chat.GetResponseAsync("How do I reset my password?", options, stoppingToken);
        feedback.Thumb(sessionId, UserId, first.GetGenerationId()!, ThumbValue.Down);

        var second = await chat.GetResponseAsync("How do I reset my password?", options, stoppingToken);
        feedback.Regenerated(sessionId, UserId, first.GetGenerationId()!, second.GetGenerationId()!);
        feedback.Thumb(sessionId, UserId, second.GetGenerationId()!, ThumbValue.Up);

        // Labels and pairs are written when the session ends; without this they wait for the session timeout.
        feedback.SessionEnded(sessionId, UserId);
        Done(logger, sessionId);
        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {SessionId} reported; stopping")]
    private static partial void Done(ILogger logger, string sessionId);
}
