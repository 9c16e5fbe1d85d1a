using System.Text;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>
/// <c>event_id</c>, <c>session_id</c> and <c>user_id</c> take any text but control characters (docs/contract/events.md):
/// the parser and the JSON Schemas refuse the same ids, the parser with a fixed reason that never quotes the id.
/// </summary>
public sealed class IdCharacterTests
{
    private const string Valid =
        """{"event_id":"e-1","type":"feedback.thumb","v":1,"app_id":"chat-app","session_id":"s-1","user_id":"u-1","occurred_at":"2026-01-31T12:00:00Z","data":{"generation_id":"g-1","value":"up"}}""";

    /// <summary>The event with one id's JSON string body replaced (JSON escapes as written on the wire).</summary>
    private static string With(string field, string escaped) =>
        Valid.Replace($"\"{field}\":\"{field[0]}-1\"", $"\"{field}\":\"{escaped}\"", StringComparison.Ordinal);

    /// <summary>field, the id's string body as JSON escapes.</summary>
    public static TheoryData<string, string> Refused() => new()
    {
        { "user_id", @"u\u0000" },
        { "user_id", @"\u0000" },
        { "user_id", @"u\u001b[31mred" },
        { "user_id", @"u\u001f" },
        { "user_id", @"u\u007f" },
        { "event_id", @"e\u0080" },
        { "session_id", @"s\n2026-01-31 WARN forged" },
        { "session_id", @"s\r" },
        { "session_id", @"s\t1" },
        { "session_id", @"s\u0085" },
        { "event_id", @"e\u0000" },
        { "event_id", @"e\u009f" },
        { "event_id", @"\u0007e" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void An_id_with_a_control_character_is_refused_by_parser_and_schema_without_quoting_it(string field, string escaped)
    {
        var json = With(field, escaped);
        Assert.NotEqual(Valid, json);

        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(json), out var evt, out var rejection), $"the parser accepted {evt}");
        Assert.Equal((field, EventJson.IdControlCharacterReason), (rejection.Field, rejection.Reason));
        Assert.Equal(EventRejectionKind.InvalidField, rejection.Kind);

        var results = EventSchemas.Evaluate(EventTypes.FeedbackThumb, json);
        Assert.False(results.IsValid, $"the schema accepted {json}");
        Assert.True(EventSchemas.Mentions(EventSchemas.Errors(results), field), string.Join('\n', EventSchemas.Errors(results)));
    }

    /// <summary>field, an id that is text without control characters: letters of any script, spaces, emoji, punctuation.</summary>
    public static TheoryData<string, string> Allowed() => new()
    {
        { "user_id", "u_5e1f0c2a9b7d4e6f" },
        { "user_id", "José Ñúñez" },
        { "user_id", @"\u00a0u" },
        { "session_id", @"s-\ud83d\ude00" },
        { "session_id", "会话-81" },
        { "session_id", "s/1:2|3" },
        { "user_id", "u~1 " },
        { "event_id", "01944f3a-7c1e-7d2a-9b1f-3c5d7e9a0b12" },
        { "event_id", @"e\u00a0\u2028" },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void An_id_without_control_characters_is_accepted_by_parser_and_schema(string field, string escaped)
    {
        var json = With(field, escaped);
        Assert.NotEqual(Valid, json);

        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(json), out _, out var rejection), rejection?.ToString());
        var results = EventSchemas.Evaluate(EventTypes.FeedbackThumb, json);
        Assert.True(results.IsValid, string.Join('\n', EventSchemas.Errors(results)));
    }

    [Fact]
    public void The_length_is_judged_before_the_characters()
    {
        var json = With("user_id", string.Concat(Enumerable.Repeat(@"\u0000", 129)));

        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(json), out _, out var rejection));
        Assert.Equal(("user_id", "must be 1 to 128 characters"), (rejection.Field, rejection.Reason));
    }
}
