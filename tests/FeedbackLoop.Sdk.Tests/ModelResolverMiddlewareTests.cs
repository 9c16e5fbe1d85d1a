using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.AI;
using FeedbackLoop.Sdk.Models;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// <c>UseFeedbackLoopModel</c> and the resolver in embedded mode: the session's model becomes the call's
/// <see cref="ChatOptions.ModelId"/>, and <c>generation.shown</c> records the served version and variant. The inner
/// client is a stand-in for the model provider that remembers the model id it was asked for.
/// </summary>
public sealed class ModelResolverMiddlewareTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly ModelChoice Fallback = new("base", "provider/base-model", null, null);

    private sealed class AskedModel : IChatClient
    {
        public List<string?> ModelIds { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            ModelIds.Add(options?.ModelId);
            return Task.FromResult(new ChatResponse(new AiChatMessage(ChatRole.Assistant, "ok")));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static ChatOptions Session(string id) => new() { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = id } };

    [Fact]
    public async Task The_first_call_gets_the_fallback_without_a_variant_and_later_calls_the_sessions_model_recorded_in_generation_shown()
    {
        var canary = new ModelChoice("shop-m200", "models/shop-m200", "canary", "shop-m200-canary");
        using var resolver = new FeedbackModelResolver(new InProcessModelSource(_ => canary), new ModelResolverOptions { Fallback = Fallback });
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "shop" }, transport);
        var model = new AskedModel();
        using var chat = new ChatClientBuilder(model).UseFeedbackLoopModel(resolver).UseFeedbackLoop(feedback).Build();

        await chat.GetResponseAsync([new AiChatMessage(ChatRole.User, "hi")], Session("s1"));
        Assert.True(await Eventually.TrueAsync(() => resolver.Counters.Answers == 1, Deadline));
        await chat.GetResponseAsync([new AiChatMessage(ChatRole.User, "again")], Session("s1"));
        Assert.True(await feedback.FlushAsync(Deadline));

        Assert.Equal(["provider/base-model", "models/shop-m200"], model.ModelIds);
        var shown = transport.Parsed().Select(e => Assert.IsType<GenerationShown>(e.Data)).ToList();
        Assert.Equal([("base", null), ("shop-m200", "canary")], shown.Select(s => (s.ModelVersion, s.Variant)));
        Assert.Equal((1, 1), (resolver.Counters.StandIns, resolver.Counters.Answers));
    }

    [Fact]
    public async Task A_call_without_a_session_is_left_as_the_app_made_it()
    {
        using var resolver = new FeedbackModelResolver(new InProcessModelSource(_ => throw new InvalidOperationException("not asked")), new ModelResolverOptions { Fallback = Fallback });
        var model = new AskedModel();
        using var chat = new ChatClientBuilder(model).UseFeedbackLoopModel(resolver).Build();

        await chat.GetResponseAsync([new AiChatMessage(ChatRole.User, "hi")], new ChatOptions { ModelId = "app-choice" });

        Assert.Equal(["app-choice"], model.ModelIds);
    }

    [Fact]
    public async Task A_session_seen_first_gets_the_apps_last_stable_answer_as_a_stand_in_never_another_sessions_canary()
    {
        var stable = new ModelChoice("shop-m100", "models/shop-m100", "stable", "r1");
        var canary = new ModelChoice("shop-m200", "models/shop-m200", "canary", "r1");
        using var resolver = new FeedbackModelResolver(new InProcessModelSource(s => s == "a" ? stable : canary), new ModelResolverOptions { Fallback = Fallback });

        resolver.Resolve("a");
        Assert.True(await Eventually.TrueAsync(() => resolver.Counters.Answers == 1, Deadline));
        resolver.Resolve("c");
        Assert.True(await Eventually.TrueAsync(() => resolver.Counters.Answers == 2, Deadline));
        Assert.Equal((stable, canary), (resolver.Resolve("a"), resolver.Resolve("c")));

        var standIn = resolver.Resolve("b");

        Assert.Equal(new ModelChoice("shop-m100", "models/shop-m100", null, null), standIn);
    }
}
