using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// A call whose arguments break the contract (a required one null, an enum value cast from an int) is dropped as
/// <c>invalid</c> and counted, never sent with a guessed value and never thrown into the app; the others still go out.
/// </summary>
public sealed class ArgumentRefusalTests
{
    public static TheoryData<string, Func<FeedbackClient, object>> Calls => new()
    {
        { "thumb value 9", c => c.Thumb("s1", "u1", "g1", (ThumbValue)9) },
        { "thumb value -1", c => c.Thumb("s1", "u1", "g1", (ThumbValue)(-1)) },
        { "thumb generation null", c => c.Thumb("s1", "u1", null!, ThumbValue.Up) },
        { "shown input null", c => c.Shown("s1", "u1", "m1", null!, "answer", generationId: "g1") },
        { "shown output null", c => c.Shown("s1", "u1", "m1", [new ConversationTurn("user", "q")], null!, generationId: "g1") },
        { "shown null message", c => c.Shown("s1", "u1", "m1", [null!], "answer", generationId: "g1") },
        { "edited text null", c => c.Edited("s1", "u1", "g1", null!) },
        { "session null", c => c.Copied(null!, "u1", "g1") },
        { "choice null", c => c.ComparisonChosen("s1", "u1", "set1", null!) },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_call_with_a_bad_argument_is_counted_invalid_and_not_sent(string call, Func<FeedbackClient, object> bad)
    {
        var transport = new RecordingTransport();
        await using var client = new FeedbackClient(new FeedbackClientOptions { AppId = "shop" }, transport);

        bad(client);
        client.Thumb("s1", "u1", "g-ok", ThumbValue.Down);
        Assert.False(await client.FlushAsync(TimeSpan.FromSeconds(10)), call); // one of the two was not delivered

        Assert.Equal(1, client.Counters.Dropped(DropReason.Invalid));
        var sent = Assert.Single(transport.Parsed());
        Assert.Equal("g-ok", Assert.IsType<ThumbGiven>(sent.Data).GenerationId);
        Assert.Equal(ThumbValue.Down, ((ThumbGiven)sent.Data).Value);
    }
}
