using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The Microsoft.Extensions.AI middleware. The inner client is a scripted stand-in for the model provider
/// (a third-party service we cannot run here); the middleware and the FeedbackClient are the real ones.
/// </summary>
public sealed class ChatClientMiddlewareTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Every_response_is_reported_as_generation_shown_and_carries_its_generation_id()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ScriptedModel("Reset it under Settings → Security.", "gpt-test-1"))
            .UseFeedbackLoop(feedback, o => o.PromptVersion = "support-v3")
            .Build();
        var options = new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = "sess-9", [FeedbackChatClient.UserIdKey] = "user-7" } };

        var response = await chat.GetResponseAsync([new AiChatMessage(ChatRole.System, "Be brief."), new AiChatMessage(ChatRole.User, "How do I reset my password?")], options);

        Assert.Equal("Reset it under Settings → Security.", response.Text); // the app's answer is untouched
        var generationId = Assert.IsType<string>(response.GetGenerationId());
        // The app sends feedback on that id.
        feedback.Thumb("sess-9", "user-7", generationId, ThumbValue.Up);
        Assert.True(await feedback.FlushAsync(Deadline));

        var events = transport.Parsed();
        var shown = Assert.IsType<GenerationShown>(events[0].Data);
        Assert.Equal(generationId, shown.GenerationId);
        Assert.Equal("gpt-test-1", shown.ModelVersion);
        Assert.Equal("support-v3", shown.PromptVersion);
        Assert.Equal(["system", "user"], shown.Input.Select(m => m.Role));
        Assert.Equal("How do I reset my password?", shown.Input[1].Content);
        Assert.Equal("Reset it under Settings → Security.", shown.Output);
        Assert.NotNull(shown.LatencyMs);
        Assert.Equal(("sess-9", "user-7"), (events[0].SessionId, events[0].UserId));
        Assert.Equal(generationId, Assert.IsType<ThumbGiven>(events[1].Data).GenerationId);
    }

    [Fact]
    public async Task A_streamed_response_is_reported_once_with_the_whole_text_and_every_update_carries_the_id()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ScriptedModel("Open Settings, then Security, then Reset.", "m-stream")).UseFeedbackLoop(feedback).Build();
        var options = new ChatOptions { ConversationId = "conv-1" };

        var ids = new List<string>();
        var text = "";
        await foreach (var update in chat.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "reset?")], options))
        {
            ids.Add(Assert.IsType<string>(update.GetGenerationId()));
            text += update.Text;
        }

        Assert.True(ids.Count > 1);
        Assert.Single(ids.Distinct());
        Assert.Equal("Open Settings, then Security, then Reset.", text);
        Assert.True(await feedback.FlushAsync(Deadline));
        var evt = Assert.Single(transport.Parsed());
        var shown = Assert.IsType<GenerationShown>(evt.Data);
        Assert.Equal(ids[0], shown.GenerationId);
        Assert.Equal(text, shown.Output);
        Assert.Equal("m-stream", shown.ModelVersion);
        Assert.Equal(("conv-1", "anonymous"), (evt.SessionId, evt.UserId)); // no ids given: the conversation and the default user
    }

    [Fact]
    public async Task A_stream_the_app_stops_reading_early_reports_what_was_shown()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ScriptedModel("one two three four", "m")).UseFeedbackLoop(feedback).Build();

        await foreach (var update in chat.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "count")]))
        {
            if (update.Text == "two ") break;
        }

        Assert.True(await feedback.FlushAsync(Deadline));
        Assert.Equal("one two ", Assert.IsType<GenerationShown>(Assert.Single(transport.Parsed()).Data).Output);
    }

    [Fact]
    public async Task A_failing_model_call_reports_nothing_and_its_error_reaches_the_app_unchanged()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ScriptedModel("", "m", fail: true)).UseFeedbackLoop(feedback).Build();

        await Assert.ThrowsAsync<HttpRequestException>(() => chat.GetResponseAsync([new AiChatMessage(ChatRole.User, "hi")]));

        Assert.True(await feedback.FlushAsync(Deadline));
        Assert.Empty(transport.Events);
    }

    /// <summary>Answers with a fixed text; streams it word by word.</summary>
    internal sealed class ScriptedModel(string answer, string modelId, bool fail = false) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            fail ? throw new HttpRequestException("provider unavailable")
                : Task.FromResult(new ChatResponse(new AiChatMessage(ChatRole.Assistant, answer)) { ModelId = modelId });

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<AiChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var word in answer.Split(' '))
            {
                await Task.Yield();
                yield return new ChatResponseUpdate(ChatRole.Assistant, word + (word == answer.Split(' ')[^1] ? "" : " ")) { ModelId = modelId };
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
