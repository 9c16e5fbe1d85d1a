using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The ambient session scope (<see cref="FeedbackSession"/>) as the chat middleware reads it, and the clear default, with
/// one warning and a counter, when a chat call has no session id at all.
/// </summary>
public sealed class SessionScopeTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly AiChatMessage[] Question = [new(ChatRole.User, "reset?")];

    [Fact]
    public async Task Calls_inside_a_session_scope_are_reported_under_its_ids_and_the_scope_ends_with_its_using()
    {
        var (feedback, transport, chat) = Build();
        await using (feedback)
        {
            using (feedback.BeginSession("sess-a", "user-a"))
            {
                await chat.GetResponseAsync(Question);
                await Task.Yield(); // the scope flows across awaits
                await foreach (var _ in chat.GetStreamingResponseAsync(Question))
                {
                }
            }
            Assert.Null(FeedbackSession.Current);
            Assert.True(await feedback.FlushAsync(Deadline));

            Assert.All(transport.Parsed(), e => Assert.Equal(("sess-a", "user-a"), (e.SessionId, e.UserId)));
            Assert.Equal(2, transport.Events.Count);
            Assert.Equal(0, feedback.Counters.SessionDefaulted);
        }
    }

    [Fact]
    public async Task Ids_on_the_call_win_over_the_scope_and_nested_scopes_restore_the_outer_one()
    {
        var (feedback, transport, chat) = Build();
        await using (feedback)
        {
            using (FeedbackSession.Begin("outer", "u-outer"))
            {
                using (FeedbackSession.Begin("inner"))
                {
                    await chat.GetResponseAsync(Question); // inner session, no user in the scope: the middleware's default user
                    await chat.GetResponseAsync(Question, new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = "explicit" } });
                }
                Assert.Equal("outer", FeedbackSession.Current?.SessionId);
                await chat.GetResponseAsync(Question);
            }
            Assert.True(await feedback.FlushAsync(Deadline));

            Assert.Equal(
                [("inner", "anonymous"), ("explicit", "anonymous"), ("outer", "u-outer")],
                transport.Parsed().Select(e => (e.SessionId, e.UserId)));
        }
    }

    [Fact]
    public async Task Concurrent_flows_each_keep_their_own_session()
    {
        var (feedback, transport, chat) = Build();
        await using (feedback)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            {
                using (feedback.BeginSession("sess-" + i, "user-" + i))
                {
                    for (var n = 0; n < 5; n++)
                    {
                        await Task.Yield();
                        await chat.GetResponseAsync(Question);
                    }
                }
            })));
            Assert.True(await feedback.FlushAsync(Deadline));

            var events = transport.Parsed();
            Assert.Equal(40, events.Count);
            Assert.All(events, e => Assert.Equal(e.SessionId.Replace("sess-", "user-", StringComparison.Ordinal), e.UserId));
            Assert.All(events.GroupBy(e => e.SessionId), g => Assert.Equal(5, g.Count()));
        }
    }

    [Fact]
    public async Task Without_any_session_id_the_generation_id_stands_in_counted_every_time_and_warned_about_once()
    {
        var logs = new ListLogger<FeedbackClient>();
        var (feedback, transport, chat) = Build(logs);
        await using (feedback)
        {
            var first = await chat.GetResponseAsync(Question);
            var second = await chat.GetResponseAsync(Question);
            await chat.GetResponseAsync(Question, new ChatOptions { ConversationId = "conv-1" }); // a conversation id is a session id
            Assert.True(await feedback.FlushAsync(Deadline));

            var sessions = transport.Parsed().Select(e => e.SessionId).ToArray();
            Assert.Equal([first.GetGenerationId()!, second.GetGenerationId()!, "conv-1"], sessions);
            Assert.Equal(2, feedback.Counters.SessionDefaulted);
            var warning = Assert.Single(logs.Lines, l => l.Contains("without a session id", StringComparison.Ordinal));
            Assert.Contains("BeginSession", warning, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_scope_needs_a_session_id()
    {
        var error = Assert.Throws<ArgumentException>(() => FeedbackSession.Begin(" "));
        Assert.Equal("sessionId", error.ParamName);
        Assert.Null(FeedbackSession.Current);
    }

    private static (FeedbackClient Feedback, RecordingTransport Transport, IChatClient Chat) Build(ListLogger<FeedbackClient>? logs = null)
    {
        var transport = new RecordingTransport();
        var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport, logs);
        var chat = new ChatClientBuilder(new ChatClientMiddlewareTests.ScriptedModel("Open Settings.", "m1")).UseFeedbackLoop(feedback).Build();
        return (feedback, transport, chat);
    }
}
