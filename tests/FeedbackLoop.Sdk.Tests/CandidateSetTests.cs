using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.AI;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>Answers shown side by side go through the chat middleware as one candidate set; the user's pick joins them.</summary>
public sealed class CandidateSetTests
{
    private static readonly AiChatMessage[] Question = [new(ChatRole.User, "reset?")];

    [Fact]
    public async Task Side_by_side_answers_are_reported_as_one_candidate_set_and_the_pick_names_one_of_them()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ChatClientMiddlewareTests.ScriptedModel("Open Settings.", "m1")).UseFeedbackLoop(feedback).Build();
        var call = new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = "s1", [FeedbackChatClient.UserIdKey] = "u1" } };

        var left = await chat.GetResponseAsync(Question, call.AsCandidate("set-1", 0));
        var right = await chat.GetResponseAsync(Question, call.AsCandidate("set-1", 1));
        feedback.ComparisonChosen("s1", "u1", "set-1", right.GetGenerationId()!);
        Assert.True(await feedback.FlushAsync(TimeSpan.FromSeconds(10)));

        var events = transport.Parsed();
        var shown = events.Take(2).Select(e => Assert.IsType<GenerationShown>(e.Data)).ToArray();
        Assert.Equal([("set-1", 0), ("set-1", 1)], shown.Select(s => (s.CandidateSetId, s.Position ?? -1)));
        Assert.Equal([left.GetGenerationId(), right.GetGenerationId()], shown.Select(s => s.GenerationId));
        var chosen = Assert.IsType<ComparisonChosen>(events[2].Data);
        Assert.Equal(("set-1", right.GetGenerationId()), (chosen.CandidateSetId, chosen.ChosenGenerationId));
        Assert.All(events, e => Assert.Equal(("s1", "u1"), (e.SessionId, e.UserId)));
        Assert.False(call.AdditionalProperties.ContainsKey(FeedbackChatClient.CandidateSetIdKey)); // the app's options are left as they were
    }

    [Fact]
    public async Task A_call_that_is_no_candidate_is_reported_without_a_set()
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "chat" }, transport);
        using var chat = new ChatClientBuilder(new ChatClientMiddlewareTests.ScriptedModel("Open Settings.", "m1")).UseFeedbackLoop(feedback).Build();

        await chat.GetResponseAsync(Question, new ChatOptions { ConversationId = "s1" });
        Assert.True(await feedback.FlushAsync(TimeSpan.FromSeconds(10)));

        var shown = Assert.IsType<GenerationShown>(Assert.Single(transport.Parsed()).Data);
        Assert.Null(shown.CandidateSetId);
        Assert.Null(shown.Position);
    }

    [Theory]
    [InlineData("", 0, "candidateSetId")]
    [InlineData("set-1", -1, "position")]
    public void A_candidate_needs_a_set_id_and_a_position_from_zero(string set, int position, string parameter)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new ChatOptions().AsCandidate(set, position));
        Assert.Equal(parameter, error.ParamName);
    }
}
