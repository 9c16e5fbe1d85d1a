using System.Text;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.AI;
using FeedbackLoop.Sdk.Truncation;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ContractMessage = FeedbackLoop.Contracts.ConversationTurn;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// Issue 16, item 5: a conversation too large for one event is shortened by the truncation policy (docs/adr/0029) and
/// sent, not dropped; feedback on it still joins by its generation id. The model is a stand-in (a third-party service);
/// the middleware, client and serializer are the real ones.
/// </summary>
public sealed class TruncationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private const string Question = "Question: how do I reset my password?";

    public static TheoryData<string, AiChatMessage[], bool, string> Conversations => new()
    {
        // A RAG prompt: 50 KB of retrieved documents in one user turn; its middle is cut, the question at its end stays.
        { "50 KB RAG prompt", [new(ChatRole.System, "Answer from the documents."), new(ChatRole.User, Documents(50_000) + "\n\n" + Question)], true, "cut within the turn" },
        // A long chat: whole turns go from the middle, oldest first, and one system turn says how many.
        { "80-turn chat", [new(ChatRole.System, "Be brief."), .. Chat(80, 600), new(ChatRole.User, Question)], true, "turns removed" },
        // Switched off: the event is dropped as oversized, as before.
        { "50 KB RAG prompt, truncation off", [new(ChatRole.User, Documents(50_000) + Question)], false, "dropped" },
    };

    [Theory]
    [MemberData(nameof(Conversations))]
    public async Task A_conversation_over_the_event_limit_arrives_shortened_and_its_feedback_joins(string name, AiChatMessage[] conversation, bool truncate, string expected)
    {
        var transport = new RecordingTransport();
        await using var feedback = new FeedbackClient(new FeedbackClientOptions { AppId = "rag", TruncateLargeInput = truncate }, transport);
        using var chat = new ChatClientBuilder(new ChatClientMiddlewareTests.ScriptedModel("Open Settings, then Security.", "m1")).UseFeedbackLoop(feedback).Build();
        var options = new ChatOptions { AdditionalProperties = new() { [FeedbackChatClient.SessionIdKey] = "s1", [FeedbackChatClient.UserIdKey] = "u1" } };

        var response = await chat.GetResponseAsync(conversation, options);
        feedback.Thumb("s1", "u1", response.GetGenerationId()!, ThumbValue.Up);
        await feedback.FlushAsync(Deadline);

        var sent = transport.Events;
        var thumb = Assert.IsType<ThumbGiven>(transport.Parsed()[^1].Data);
        Assert.Equal(response.GetGenerationId(), thumb.GenerationId);
        if (expected == "dropped")
        {
            Assert.Single(sent);
            Assert.Equal(1, feedback.Counters.DroppedOversized);
            Assert.Equal(0, feedback.Counters.Truncated);
            return;
        }
        Assert.Equal(2, sent.Count);
        // Under the limit, and not cut far below it.
        Assert.True(sent[0].Json.Length <= EventLimits.MaxEventBytes, $"{name}: {sent[0].Json.Length} bytes");
        Assert.True(sent[0].Json.Length >= EventLimits.MaxEventBytes - 2_048, $"{name}: cut to {sent[0].Json.Length} bytes");
        var shown = Assert.IsType<GenerationShown>(transport.Parsed()[0].Data);
        Assert.Equal(thumb.GenerationId, shown.GenerationId); // the feedback joins the shortened event
        Assert.Equal(conversation[0].Text, shown.Input[0].Content); // the first turn (the system prompt) is whole
        Assert.EndsWith(Question, shown.Input[^1].Content, StringComparison.Ordinal); // the last turn's end is kept
        Assert.Equal("Open Settings, then Security.", shown.Output); // never cut
        Assert.Equal(1, feedback.Counters.Truncated);
        Assert.Equal(0, feedback.Counters.DroppedTotal());
        if (expected == "turns removed")
        {
            var marker = Assert.Single(shown.Input, m => m.Content.Contains("turns (", StringComparison.Ordinal));
            Assert.Equal("system", marker.Role);
            Assert.Equal(shown.Input[1], marker); // where the removed turns were: right after the system prompt
            Assert.Equal(conversation[^2].Text, shown.Input[^2].Content); // the latest turns are kept whole
        }
        else
        {
            Assert.Contains("characters removed here", shown.Input[^1].Content, StringComparison.Ordinal);
            Assert.StartsWith(conversation[^1].Text[..64], shown.Input[^1].Content, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Whole_middle_turns_go_first_oldest_first_behind_one_marker_turn()
    {
        ContractMessage[] input = [new("system", "sys"), Turn("user", 100), Turn("assistant", 100), Turn("user", 100), Turn("assistant", 100), new("user", "last")];

        var cut = ConversationTruncation.Cut(input, 150)!;

        Assert.Equal(2, cut.TurnsRemoved);
        Assert.Equal(200, cut.CharactersRemoved);
        Assert.Equal(["system", "system", "user", "assistant", "user"], cut.Input.Select(m => m.Role));
        Assert.Equal("[feedbackloop: 2 turns (200 characters) removed here to fit the event size limit]", cut.Input[1].Content);
        Assert.Equal("last", cut.Input[^1].Content);
        Assert.True(Length(input) - Length(cut.Input) >= 150);
    }

    [Fact]
    public void A_cut_inside_a_turn_never_splits_a_surrogate_pair()
    {
        ContractMessage[] input = [new("user", string.Concat(Enumerable.Repeat("😀", 5_000)))];

        var cut = ConversationTruncation.Cut(input, 3_001)!;

        var text = cut.Input[0].Content;
        Assert.True(Length(input) - Length(cut.Input) >= 3_001);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i])) Assert.True(char.IsLowSurrogate(text[++i]), $"lone high surrogate at {i - 1}");
            else Assert.False(char.IsLowSurrogate(text[i]), $"lone low surrogate at {i}");
        }
    }

    [Theory]
    [InlineData(0, true)]       // nothing to remove: unchanged
    [InlineData(1_000, false)]  // a short turn cannot give 1,000 characters: the event stays oversized
    public void What_cannot_or_need_not_be_cut_is_said_so(int remove, bool unchanged)
    {
        ContractMessage[] input = [new("user", "short question")];

        var cut = ConversationTruncation.Cut(input, remove);

        if (unchanged) Assert.Same(input, cut!.Input);
        else Assert.Null(cut);
    }

    private static ContractMessage Turn(string role, int length) => new(role, new string('x', length));

    private static long Length(IReadOnlyList<ContractMessage> turns) => turns.Sum(t => t.Content.Length + 36L);

    private static string Documents(int length)
    {
        var text = new StringBuilder(length);
        for (var i = 0; text.Length < length; i++) text.Append("Document ").Append(i).Append(": to reset a password, open Settings, then Security. ");
        return text.ToString(0, length);
    }

    private static IEnumerable<AiChatMessage> Chat(int turns, int length) =>
        Enumerable.Range(0, turns).Select(i => new AiChatMessage(i % 2 == 0 ? ChatRole.User : ChatRole.Assistant, $"turn {i} " + new string('w', length)));
}
