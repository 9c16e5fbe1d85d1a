using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace FeedbackLoop.Contracts.Tests;

public sealed class ValidEventTests
{
    [Theory]
    [MemberData(nameof(EventSamples.Names), MemberType = typeof(EventSamples))]
    public void Serialized_sample_is_valid_against_its_type_schema(string sample)
    {
        var evt = EventSamples.All[sample];
        var json = Encoding.UTF8.GetString(EventJson.SerializeToUtf8Bytes(evt));

        var results = EventSchemas.Evaluate(evt.Type, json);

        Assert.True(results.IsValid, $"{json}\n{string.Join('\n', EventSchemas.Errors(results))}");
    }

    [Theory]
    [MemberData(nameof(EventSamples.Names), MemberType = typeof(EventSamples))]
    public void Serialized_sample_holds_exactly_the_contract_fields_in_data(string sample)
    {
        // Open data lets consumers ignore what they do not know; it must not hide fields we write by mistake
        // (the computed Type and SubjectGenerationId once leaked into data).
        var evt = EventSamples.All[sample];
        var json = Encoding.UTF8.GetString(EventJson.SerializeToUtf8Bytes(evt));

        var results = EventSchemas.EvaluateAsProduced(evt.Type, json);

        Assert.True(results.IsValid, $"{json}\n{string.Join('\n', EventSchemas.Errors(results))}");
    }

    [Theory]
    [MemberData(nameof(EventSamples.Names), MemberType = typeof(EventSamples))]
    public void Serialized_sample_parses_back_to_an_equal_event(string sample)
    {
        var evt = EventSamples.All[sample];

        var parsed = EventJson.TryParse(EventJson.SerializeToUtf8Bytes(evt), out var back, out var rejection);

        Assert.True(parsed, rejection?.ToString());
        AssertSameEvent(evt, back!);
    }

    [Fact]
    public void Unknown_fields_inside_data_are_accepted_by_parser_and_schema()
    {
        const string json = """
            {"event_id":"e-1","type":"generation.shown","v":1,"app_id":"app","session_id":"s-1","user_id":"u-1",
             "occurred_at":"2026-01-31T12:00:00Z",
             "data":{"generation_id":"g-1","model_version":"m-1","input":[{"role":"user","content":"Hi","name":"ann"}],
                     "output":"Hello","temperature":0.7,"tags":["a"]}}
            """;

        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(json), out var evt, out var rejection), rejection?.ToString());
        var shown = Assert.IsType<GenerationShown>(evt.Data);
        Assert.Equal([new ConversationTurn("user", "Hi")], shown.Input);
        var results = EventSchemas.Evaluate(EventTypes.GenerationShown, json);
        Assert.True(results.IsValid, string.Join('\n', EventSchemas.Errors(results)));
    }

    [Fact]
    public void Whitespace_after_the_event_object_is_accepted()
    {
        var json = EventJson.SerializeToUtf8Bytes(EventSamples.All["session.ended"]).Concat(" \r\n"u8.ToArray()).ToArray();

        Assert.True(EventJson.TryParse(json, out _, out var rejection), rejection?.ToString());
    }

    [Fact]
    public void Optional_fields_given_as_null_are_accepted_by_parser_and_schema_as_absent()
    {
        const string json = """
            {"event_id":"e-1","type":"generation.shown","v":1,"app_id":"app","session_id":"s-1","user_id":"u-1",
             "occurred_at":"2026-01-31T12:00:00+00:00",
             "data":{"generation_id":"g-1","model_version":"m-1","input":[{"role":"user","content":"Hi"}],"output":"Hello",
                     "prompt_version":null,"variant":null,"candidate_set_id":null,"position":null,"latency_ms":null}}
            """;

        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(json), out var evt, out var rejection), rejection?.ToString());
        Assert.Equal(new GenerationShown("g-1", "m-1", [], "Hello"), (GenerationShown)evt.Data with { Input = [] });
        var results = EventSchemas.Evaluate(EventTypes.GenerationShown, json);
        Assert.True(results.IsValid, string.Join('\n', EventSchemas.Errors(results)));
    }

    [Fact]
    public void Event_over_32_KiB_is_rejected_with_a_reason_naming_the_limit()
    {
        var big = ShownWithOutputLength(EventLimits.MaxEventBytes);

        var parsed = EventJson.TryParse(big, out _, out var rejection);

        Assert.False(parsed);
        Assert.Equal(EventLimits.MaxEventBytes + 1, big.Length);
        Assert.Equal("$", rejection!.Field);
        Assert.Contains(EventLimits.MaxEventBytes.ToString(CultureInfo.InvariantCulture), rejection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Event_of_exactly_32_KiB_is_accepted()
    {
        var atLimit = ShownWithOutputLength(EventLimits.MaxEventBytes - 1);

        Assert.Equal(EventLimits.MaxEventBytes, atLimit.Length);
        Assert.True(EventJson.TryParse(atLimit, out _, out var rejection), rejection?.ToString());
    }

    /// <summary>A generation.shown whose serialized size is <paramref name="bytes"/> + 1 (ASCII output pads it).</summary>
    private static byte[] ShownWithOutputLength(int bytes)
    {
        var template = EventSamples.All["generation.shown with required fields only"];
        var baseSize = EventJson.SerializeToUtf8Bytes(template).Length;
        var data = (GenerationShown)template.Data with { Output = new string('x', bytes + 1 - baseSize) };
        return EventJson.SerializeToUtf8Bytes(template with { Data = data });
    }

    /// <summary>Field by field: records hold lists by reference, so their generated Equals cannot compare them.</summary>
    internal static void AssertSameEvent(FeedbackEvent expected, FeedbackEvent actual)
    {
        Assert.Equal(expected.EventId, actual.EventId);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.V, actual.V);
        Assert.Equal(expected.AppId, actual.AppId);
        Assert.Equal(expected.SessionId, actual.SessionId);
        Assert.Equal(expected.UserId, actual.UserId);
        Assert.Equal(expected.OccurredAt.UtcDateTime, actual.OccurredAt.UtcDateTime);
        Assert.Equal(TimeSpan.Zero, actual.OccurredAt.Offset);
        Assert.IsType(expected.Data.GetType(), actual.Data);
        foreach (var property in expected.Data.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var want = property.GetValue(expected.Data);
            var got = property.GetValue(actual.Data);
            if (want is IEnumerable wantItems and not string && got is IEnumerable gotItems)
                Assert.Equal(wantItems.Cast<object>(), gotItems.Cast<object>());
            else
                Assert.Equal(want, got);
        }
    }
}
