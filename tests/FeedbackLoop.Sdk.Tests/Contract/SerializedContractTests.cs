using System.Text;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Tests;

namespace FeedbackLoop.Sdk.Tests.Contract;

/// <summary>
/// What the SDK puts on the wire holds the contract exactly: every event type, reported through the client's
/// public calls and serialized by its real sender, validates against its published schema with <c>data</c>
/// (and chat messages) closed to fields the contract does not name.
/// </summary>
public sealed class SerializedContractTests
{
    [Fact]
    public async Task Every_event_type_the_client_sends_validates_against_its_schema_with_data_closed()
    {
        var transport = new RecordingTransport();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "support-bot" }, transport))
        {
            // Every optional field set, so a stray or misnamed one cannot hide behind null-skipping.
            var shown = client.Shown("s1", "u1", "m-1", [new ConversationTurn("system", "Be brief."), new ConversationTurn("user", "Hi")], "Hello!",
                generationId: "g-1", variant: "B", candidateSetId: "c-1", position: 0, promptVersion: "p-3", latencyMs: 812);
            Assert.True(client.Thumb("s1", "u1", shown, ThumbValue.Down));
            Assert.True(client.Rating("s1", "u1", shown, 4));
            Assert.True(client.Regenerated("s1", "u1", shown, "g-2"));
            Assert.True(client.Edited("s1", "u1", shown, "Hello there."));
            Assert.True(client.Copied("s1", "u1", shown));
            Assert.True(client.Accepted("s1", "u1", shown));
            Assert.True(client.Rejected("s1", "u1", shown));
            Assert.True(client.ComparisonChosen("s1", "u1", "c-1", shown));
            Assert.True(client.Dwell("s1", "u1", shown, 1_500));
            Assert.True(client.SessionEnded("s1", "u1"));
            Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));
        }

        var sent = transport.Events.Select(e => Encoding.UTF8.GetString(e.Json.Span)).ToList();
        var types = transport.Parsed().Select(e => e.Type).ToList();
        // A type added to the contract without a call here fails this line, not silently passes.
        Assert.Equal(EventTypes.All.Order(StringComparer.Ordinal), types.Order(StringComparer.Ordinal));
        Assert.All(sent.Zip(types), pair =>
        {
            var results = EventSchemas.EvaluateAsProduced(pair.Second, pair.First);
            Assert.True(results.IsValid, $"{pair.First}\n{string.Join('\n', EventSchemas.Errors(results))}");
        });
    }
}
