using System.Text;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>The fixed rejection codes that metrics tag dead letters with, whatever the record says.</summary>
public sealed class RejectionKindTests
{
    private const string Valid =
        """{"event_id":"e-1","type":"feedback.thumb","v":1,"app_id":"chat-app","session_id":"s-1","user_id":"u-1","occurred_at":"2026-01-31T12:00:00Z","data":{"generation_id":"g-1","value":"up"}}""";

    /// <summary>raw record, and the kind it must be refused as.</summary>
    public static TheoryData<string, EventRejectionKind> Refused() => new()
    {
        { "{\"event_id\":", EventRejectionKind.NotJson },
        { "[1,2]", EventRejectionKind.NotJson },
        { Valid + " {}", EventRejectionKind.NotJson },
        { "{\"pad\":\"" + new string('x', EventLimits.MaxEventBytes) + "\"}", EventRejectionKind.TooLarge },
        { Valid.Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal), EventRejectionKind.UnsupportedVersion },
        { Valid.Replace("feedback.thumb", "feedback.secret-user-text", StringComparison.Ordinal), EventRejectionKind.UnknownType },
        { Valid.Replace("\"user_id\":\"u-1\",", "", StringComparison.Ordinal), EventRejectionKind.InvalidField },
        { Valid.Replace("\"app_id\"", "\"user-chosen-field\":1,\"app_id\"", StringComparison.Ordinal), EventRejectionKind.InvalidField },
        { Valid.Replace("\"up\"", "\"sideways\"", StringComparison.Ordinal), EventRejectionKind.InvalidField },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Every_rejection_has_its_fixed_kind(string raw, EventRejectionKind kind)
    {
        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(raw), out _, out var rejection));
        Assert.Equal(kind, rejection.Kind);
    }

    [Fact]
    public void The_valid_sample_is_valid()
    {
        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(Valid), out _, out var rejection), rejection?.ToString());
    }
}
