// The quick start of docs/SDK.md as a fresh app: the Generic Host, the Kafka transport, the chat middleware around a
// stand-in model, feedback by generation id, the session's end. The same question answered twice, one answer thumbed
// down and the other up, makes one preference pair and two labels once the session ends.
// Both namespaces whole, as the quick start has them: no type name of the contract collides with Microsoft.Extensions.AI's.
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddFeedbackLoop().UseKafka();
builder.Services.AddChatClient(new StandInModel()).UseFeedbackLoop();

using var host = builder.Build();
await host.StartAsync();

var chat = host.Services.GetRequiredService<IChatClient>();
var feedback = host.Services.GetRequiredService<FeedbackClient>();
const string Session = "consumer-session-1", User = "consumer-user-1";
var options = new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = Session, [FeedbackChatClient.UserIdKey] = User } };

var first = await chat.GetResponseAsync("Summarize the memo", options);
var second = await chat.GetResponseAsync("Summarize the memo", options);
feedback.Thumb(Session, User, first.GetGenerationId()!, ThumbValue.Down);
feedback.Thumb(Session, User, second.GetGenerationId()!, ThumbValue.Up);
feedback.SessionEnded(Session, User);

var delivered = await feedback.FlushAsync(TimeSpan.FromSeconds(30));
await host.StopAsync(); // disposing the host (the using above) shuts the client down, delivering anything still queued
Console.WriteLine($"consumer: delivered={delivered} sent={feedback.Counters.Sent}");
return delivered ? 0 : 1;

/// <summary>Answers without a model: each call a different answer, as a sampled model would.</summary>
internal sealed class StandInModel : IChatClient
{
    private int _calls;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, Interlocked.Increment(ref _calls) == 1
            ? "The memo says nothing."
            : "Budget is approved; hiring starts in May.")) { ModelId = "stand-in-1" });

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
