using FeedbackLoop.Contracts;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// What apps depend on: <see cref="IFeedbackClient"/>, the real client behind it when the SDK is on, and the no-op
/// <see cref="NullFeedbackClient"/> for the app's own tests and while <c>FeedbackLoop:Enabled</c> is false.
/// </summary>
public sealed class FeedbackClientInterfaceTests
{
    [Fact]
    public async Task The_registered_interface_is_the_client_that_sends()
    {
        var transport = new RecordingTransport();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["FeedbackLoop:AppId"] = "shop" });
        builder.AddFeedbackLoop().UseTransport(_ => transport);
        using var host = builder.Build();
        await host.StartAsync();

        var feedback = host.Services.GetRequiredService<IFeedbackClient>();

        Assert.Same(host.Services.GetRequiredService<FeedbackClient>(), feedback);
        Assert.True(feedback.Thumb("s1", "u1", "g1", ThumbValue.Up));
        Assert.True(await feedback.FlushAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("g1", Assert.IsType<ThumbGiven>(Assert.Single(transport.Parsed()).Data).GenerationId);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_switched_off_SDK_starts_without_any_option_and_the_chat_client_still_hands_out_generation_ids()
    {
        var builder = Host.CreateApplicationBuilder();
        // No AppId and no transport: both would fail start if the SDK were on.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["FeedbackLoop:Enabled"] = "false" });
        builder.AddFeedbackLoop();
        builder.Services.AddChatClient(new ChatClientMiddlewareTests.ScriptedModel("42", "m1")).UseFeedbackLoop();
        using var host = builder.Build();
        await host.StartAsync();

        Assert.Same(NullFeedbackClient.Instance, host.Services.GetRequiredService<IFeedbackClient>());
        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<FeedbackClient>());
        Assert.Contains("FeedbackLoop:Enabled is false", error.Message, StringComparison.Ordinal);
        var response = await host.Services.GetRequiredService<IChatClient>().GetResponseAsync([new AiChatMessage(ChatRole.User, "6 x 7?")]);
        Assert.Equal("42", response.Text);
        Assert.NotNull(response.GetGenerationId()); // the app's feedback code runs unchanged against the no-op client
        await host.StopAsync();
    }

    [Fact]
    public Task The_null_client_queues_nothing_keeps_given_ids_and_flushes_at_once() => QueuesNothing(NullFeedbackClient.Instance);

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "The calls go through the interface, as the app's code makes them.")]
    private static async Task QueuesNothing(IFeedbackClient feedback)
    {
        Assert.Equal("g-given", feedback.Shown("s1", "u1", "m1", [new Contracts.ConversationTurn("user", "q")], "a", generationId: "g-given"));
        Assert.True(Guid.TryParse(feedback.Shown("s1", "u1", "m1", [], "a"), out var made) && made.Version == 7);
        Assert.False(feedback.Thumb("s1", "u1", "g1", ThumbValue.Up));
        Assert.False(feedback.Rating("s1", "u1", "g1", 5));
        Assert.False(feedback.Regenerated("s1", "u1", "g1", "g2"));
        Assert.False(feedback.Edited("s1", "u1", "g1", "better"));
        Assert.False(feedback.Copied("s1", "u1", "g1"));
        Assert.False(feedback.Accepted("s1", "u1", "g1"));
        Assert.False(feedback.Rejected("s1", "u1", "g1"));
        Assert.False(feedback.ComparisonChosen("s1", "u1", "set1", "g1"));
        Assert.False(feedback.Dwell("s1", "u1", "g1", 1500));
        Assert.False(feedback.SessionEnded("s1", "u1"));
        Assert.False(feedback.Track("s1", "u1", new GenerationCopied("g1")));
        Assert.True(await feedback.FlushAsync(TimeSpan.Zero));
    }

    [Fact]
    public async Task The_chat_middleware_takes_the_interface_and_reports_through_the_client_behind_it()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ChatClientMiddlewareTests.ScriptedModel("hi", "m1")).UseFeedbackLoop(feedback).Build();
        var options = new ChatOptions { AdditionalProperties = new() { [Sdk.AI.FeedbackChatClient.SessionIdKey] = "s1" } };

        var response = await chat.GetResponseAsync([new AiChatMessage(ChatRole.User, "hello")], options);

        Assert.True(await feedback.FlushAsync(TimeSpan.FromSeconds(10)));
        var shown = Assert.IsType<GenerationShown>(Assert.Single(transport.Parsed()).Data);
        Assert.Equal(response.GetGenerationId(), shown.GenerationId);
    }
}
