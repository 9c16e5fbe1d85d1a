using System.Text;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>
/// Rejections carry no user text (issue 10, finding 8): the reason names the rule and the field's JSON path as fixed
/// strings, whatever the record holds; an unknown field's name and an unknown type are never quoted. And the one
/// escape for log values (<see cref="LogText"/>) and the one app-id rule (<see cref="AppIds"/>).
/// </summary>
public sealed class RejectionReasonTests
{
    private const string Valid =
        """{"event_id":"e-1","type":"feedback.thumb","v":1,"app_id":"chat-app","session_id":"s-1","user_id":"u-1","occurred_at":"2026-01-31T12:00:00Z","data":{"generation_id":"g-1","value":"up"}}""";

    /// <summary>A hostile text as a JSON string body: a forged log line (CR LF), a terminal escape, a card number and an e-mail.</summary>
    private const string Hostile = @"x\r\n2026-01-31 WARN forged \u001b[31m 4111 1111 1111 1111 jane.doe@example.com \u0007";

    /// <summary>Pieces of <see cref="Hostile"/> that must never come out.</summary>
    private static readonly string[] Leaks = ["forged", "4111", "jane.doe", "example.com", "\u001b", "\r", "\n", "\u0007"];

    /// <summary>because, raw record, the fixed field and reason the parser must give.</summary>
    public static TheoryData<string, string, string, string> Fixed() => new()
    {
        { "unknown top-level field with a hostile name", Valid.Replace("\"app_id\"", $"\"{Hostile}\":1,\"app_id\"", StringComparison.Ordinal), "$", EventJson.UnknownFieldReason },
        { "unknown top-level field whose name is ~30 KiB", Valid.Replace("\"app_id\"", $"\"{string.Concat(Enumerable.Repeat(Hostile, 300))}\":1,\"app_id\"", StringComparison.Ordinal), "$", EventJson.UnknownFieldReason },
        { "unknown top-level field whose name is a lone surrogate", Valid.Replace("\"app_id\"", "\"x\\ud800\":1,\"app_id\"", StringComparison.Ordinal), "$", EventJson.UnknownFieldReason },
        { "unknown type with a hostile value", Valid.Replace("\"feedback.thumb\"", $"\"{Hostile}\"", StringComparison.Ordinal), "type", EventJson.UnknownTypeReason },
        { "unknown type that is a lone surrogate", Valid.Replace("\"feedback.thumb\"", "\"x\\ud800\"", StringComparison.Ordinal), "type", EventJson.UnknownTypeReason },
        { "hostile app_id", Valid.Replace("\"chat-app\"", $"\"{Hostile[..40]}\"", StringComparison.Ordinal), "app_id", EventJson.AppIdReason },
        { "hostile unknown field inside data is ignored, a hostile value is not quoted", Valid.Replace("\"up\"", $"\"{Hostile}\"", StringComparison.Ordinal), "data.value", "must be \"up\" or \"down\"" },
    };

    [Theory]
    [MemberData(nameof(Fixed))]
    public void A_rejection_names_the_rule_and_the_path_and_never_quotes_the_record(string because, string raw, string field, string reason)
    {
        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(raw), out _, out var rejection), because);
        Assert.Equal(field, rejection.Field);
        Assert.Equal(reason, rejection.Reason);
        foreach (var leak in Leaks)
        {
            Assert.DoesNotContain(leak, rejection.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_fixed_reasons_hold_no_control_characters()
    {
        foreach (var reason in new[] { EventJson.UnknownFieldReason, EventJson.UnknownTypeReason, EventJson.AppIdReason, EventJson.InvalidTextReason })
        {
            Assert.Equal(reason, LogText.Escape(reason));
        }
    }

    /// <summary>raw value, what a log line gets.</summary>
    public static TheoryData<string?, string> Escapes() => new()
    {
        { null, "" },
        { "plain text, café, 日本", "plain text, café, 日本" },
        { "line\r\nforged", @"line\u000d\u000aforged" },
        { "\u001b[31mred", @"\u001b[31mred" },
        { "bell\u0007 del\u007f c1\u009b", @"bell\u0007 del\u007f c1\u009b" },
        { "bidi\u202eevil zero\u200bwidth", @"bidi\u202eevil zero\u200bwidth" },
        { "line\u2028separator", @"line\u2028separator" },
        { "pair 😀 kept", "pair 😀 kept" },
        { @"a\u000d already", @"a\\u000d already" },
        { new string('x', 250), new string('x', LogText.MaxLength) + "…(+50 chars)" },
    };

    [Theory]
    [MemberData(nameof(Escapes))]
    public void Escape_keeps_a_log_value_on_one_line_and_free_of_control_characters(string? raw, string expected) =>
        Assert.Equal(expected, LogText.Escape(raw));

    [Fact]
    public void Escape_writes_a_lone_surrogate_as_its_code_and_keeps_a_pair()
    {
        // Not theory data: the runner would turn the lone surrogate into U+FFFD on the way in.
        Assert.Equal(@"lone \ud800 high, lone \udc00 low", LogText.Escape("lone \ud800 high, lone \udc00 low"));
        Assert.Equal("😀", LogText.Escape("😀"));
        var cut = LogText.Escape(new string('x', LogText.MaxLength - 1) + "😀tail");
        Assert.StartsWith(new string('x', LogText.MaxLength - 1) + "…", cut, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_names_a_value_stably_without_showing_it()
    {
        var hash = LogText.Hash("jane.doe@example.com");
        Assert.Equal(hash, LogText.Hash("jane.doe@example.com"));
        Assert.NotEqual(hash, LogText.Hash("jane.doe@example.org"));
        Assert.Matches("^#[0-9a-f]{12}$", hash);
    }

    /// <summary>app id, whether it is a valid one (a safe path segment and argument).</summary>
    public static TheoryData<string?, bool> AppIdCases() => new()
    {
        { "demo", true },
        { "support-bot", true },
        { "0app", true },
        { "a", true },
        { "a.b_c-d", true },
        { "a..b", true },
        { new string('a', 64), true },
        { null, false },
        { "", false },
        { new string('a', 65), false },
        { ".", false },
        { "..", false },
        { ".hidden", false },
        { "-rf", false },
        { "_x", false },
        { "Demo", false },
        { "a/b", false },
        { "a b", false },
        { "a\rb", false },
        { "évil", false },
    };

    [Theory]
    [MemberData(nameof(AppIdCases))]
    public void An_app_id_is_a_safe_path_segment_and_argument(string? appId, bool valid) => Assert.Equal(valid, AppIds.IsValid(appId));
}
