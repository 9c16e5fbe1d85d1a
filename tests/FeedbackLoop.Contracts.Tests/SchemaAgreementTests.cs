using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>The schema files and the records in FeedbackLoop.Contracts describe the same contract.</summary>
public sealed class SchemaAgreementTests
{
    public static TheoryData<string> Types() => [.. EventTypes.All];

    [Fact]
    public void There_is_exactly_one_schema_file_per_v1_event_type()
    {
        var expected = EventTypes.All.Select(t => t + ".schema.json").Order(StringComparer.Ordinal);

        Assert.Equal(expected, EventSchemas.FileNames().Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Schema_names_its_type_in_id_and_type_const(string type)
    {
        var schema = EventSchemas.Document(type);

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)schema["$schema"]);
        Assert.Equal($"https://feedbackloop.dev/schemas/events/v1/{type}.schema.json", (string?)schema["$id"]);
        Assert.Equal(type, (string?)schema["properties"]!["type"]!["const"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)schema["title"]));
        Assert.False(string.IsNullOrWhiteSpace((string?)schema["description"]));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Schema_data_required_equals_the_non_nullable_constructor_parameters_of_the_record(string type)
    {
        var parameters = ConstructorParameters(RecordFor(type));
        var nullability = new NullabilityInfoContext();
        var nonNullable = parameters.Where(p => nullability.Create(p).ReadState == NullabilityState.NotNull).Select(SnakeCase);
        var data = EventSchemas.Document(type)["properties"]!["data"]!;

        Assert.Equal(nonNullable.Order(StringComparer.Ordinal), Names(data["required"]).Order(StringComparer.Ordinal));
        Assert.Equal(
            parameters.Select(SnakeCase).Order(StringComparer.Ordinal),
            (data["properties"]?.AsObject() ?? []).Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_event_data_record_has_a_type_and_a_sample()
    {
        var records = typeof(EventData).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(EventData)) && !t.IsAbstract)
            .Order(Comparer<Type>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name)));

        Assert.Equal(records, EventTypes.All.Select(RecordFor).Order(Comparer<Type>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name))));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Envelope_is_identical_in_every_schema(string type)
    {
        // The envelope is duplicated per file (self-contained schemas); this keeps the copies from drifting.
        Assert.True(
            JsonNode.DeepEquals(Envelope(EventTypes.GenerationShown), Envelope(type)),
            $"the envelope of {type}.schema.json differs from generation.shown's");
    }

    [Fact]
    public void Message_roles_in_the_schema_equal_ChatMessage_Roles()
    {
        var roles = EventSchemas.Document(EventTypes.GenerationShown)["$defs"]!["chat_message"]!["properties"]!["role"]!["enum"];

        Assert.Equal(ConversationTurn.Roles, Names(roles));
    }

    [Fact]
    public void Thumb_values_in_the_schema_equal_the_ThumbValue_wire_names()
    {
        var values = EventSchemas.Document(EventTypes.FeedbackThumb)["properties"]!["data"]!["properties"]!["value"]!["enum"];
        var wireNames = Enum.GetValues<ThumbValue>()
            .Select(v => JsonSerializer.Serialize(v).Trim('"'));

        Assert.Equal(wireNames, Names(values));
    }

    private static Type RecordFor(string type) =>
        EventSamples.All.Values.Select(e => e.Data).First(d => d.Type == type).GetType();

    /// <summary>The positional (primary) constructor; records also carry a copy constructor, which is not the contract.</summary>
    private static ParameterInfo[] ConstructorParameters(Type record) =>
        record.GetConstructors(BindingFlags.Public | BindingFlags.Instance)
            .Select(c => c.GetParameters())
            .Where(ps => !(ps.Length == 1 && ps[0].ParameterType == record))
            .MaxBy(ps => ps.Length) ?? [];

    private static string SnakeCase(ParameterInfo parameter) => JsonNamingPolicy.SnakeCaseLower.ConvertName(parameter.Name!);

    private static string[] Names(JsonNode? array) =>
        array?.AsArray().Select(n => (string)n!).ToArray() ?? [];

    private static JsonObject Envelope(string type)
    {
        var schema = EventSchemas.Document(type);
        foreach (var perType in new[] { "$id", "title", "description", "$defs" }) schema.Remove(perType);
        var properties = schema["properties"]!.AsObject();
        properties.Remove("type");
        properties.Remove("data");
        return schema;
    }
}
