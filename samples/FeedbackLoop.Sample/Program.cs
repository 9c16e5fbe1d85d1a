// A support bot in miniature: a stand-in model behind the FeedbackLoop chat middleware, a user who thumbs one answer
// down and the next one up, and the session's end. Run `feedbackloop broker` first and pass its bootstrap list:
//   FeedbackLoop__Kafka__BootstrapServers=127.0.0.1:PORT dotnet run --project samples/FeedbackLoop.Sample
// then `feedbackloop extract --bootstrap 127.0.0.1:PORT --until-idle 3` writes one pair and two labels.
using FeedbackLoop.Sample;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["FeedbackLoop:AppId"] = "sample-bot" });
builder.AddFeedbackLoop().UseKafka();
builder.Services.AddChatClient(new StandInModel()).UseFeedbackLoop(configure: o => o.PromptVersion = "support-v1");
builder.Services.AddHostedService<SupportConversation>();

// Ctrl+C or the conversation's end stops the host; disposing it shuts the FeedbackLoop client down, which delivers
// what is still queued (within FeedbackLoop:ShutdownTimeout).
using var host = builder.Build();
await host.RunAsync();
