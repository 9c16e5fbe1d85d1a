using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>One failed check of a schema evaluation: where in the event, and what the validator said.</summary>
internal sealed record SchemaError(string InstanceLocation, string Keyword, string Message)
{
    public override string ToString() => $"{(InstanceLocation.Length == 0 ? "(root)" : InstanceLocation)} [{Keyword}] {Message}";
}

/// <summary>The files under <c>schemas/events/</c> (copied next to the tests), loaded once and evaluated offline.</summary>
internal static class EventSchemas
{
    private static readonly string SchemaDirectory = Path.Combine(AppContext.BaseDirectory, "schemas", "events");

    private static readonly EvaluationOptions Options = new()
    {
        OutputFormat = OutputFormat.List,
        // date-time is only an annotation in 2020-12 unless asked for; the contract requires it to hold.
        RequireFormatValidation = true,
    };

    // Each schema gets its own registry so that building never depends on (or pollutes) the global one.
    private static readonly FrozenDictionary<string, Lazy<JsonSchema>> Schemas = EventTypes.All.ToFrozenDictionary(
        type => type,
        type => new Lazy<JsonSchema>(() =>
            JsonSchema.FromText(File.ReadAllText(PathOf(type)), new BuildOptions { SchemaRegistry = new SchemaRegistry() })));

    // The published schemas leave data (and input messages) open, so consumers ignore fields a later
    // version adds. Our own producers must write exactly the contract's fields: this view of each schema
    // closes those objects (additionalProperties: false), and everything else is the published file.
    private static readonly FrozenDictionary<string, Lazy<JsonSchema>> ProducerSchemas = EventTypes.All.ToFrozenDictionary(
        type => type,
        type => new Lazy<JsonSchema>(() =>
            JsonSchema.FromText(Closed(Document(type)).ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() })));

    public static string PathOf(string type) => Path.Combine(SchemaDirectory, type + ".schema.json");

    public static IEnumerable<string> FileNames() =>
        Directory.EnumerateFiles(SchemaDirectory, "*.schema.json").Select(Path.GetFileName).OfType<string>();

    public static JsonObject Document(string type) => JsonNode.Parse(File.ReadAllText(PathOf(type)))!.AsObject();

    public static EvaluationResults Evaluate(string type, string json)
    {
        using var document = JsonDocument.Parse(json);
        return Schemas[type].Value.Evaluate(document.RootElement.Clone(), Options);
    }

    /// <summary>Evaluates against the producer view: the published schema with <c>data</c> and chat messages closed.</summary>
    public static EvaluationResults EvaluateAsProduced(string type, string json)
    {
        using var document = JsonDocument.Parse(json);
        return ProducerSchemas[type].Value.Evaluate(document.RootElement.Clone(), Options);
    }

    private static JsonObject Closed(JsonObject schema)
    {
        schema["properties"]!["data"]!["additionalProperties"] = false;
        if (schema["$defs"]?["chat_message"] is JsonObject message) message["additionalProperties"] = false;
        return schema;
    }

    public static IReadOnlyList<SchemaError> Errors(EvaluationResults results)
    {
        var errors = new List<SchemaError>();
        foreach (var unit in (results.Details ?? []).Prepend(results))
        {
            foreach (var (keyword, message) in unit.Errors ?? new Dictionary<string, string>())
                errors.Add(new SchemaError(unit.InstanceLocation.ToString(), keyword, message));
        }
        return errors;
    }

    /// <summary>
    /// True when an error sits at <paramref name="field"/> (EventRejection form, e.g. <c>data.input[0].role</c>),
    /// or at its parent naming it — <c>required</c> reports a missing property on the object that lacks it.
    /// </summary>
    public static bool Mentions(IReadOnlyList<SchemaError> errors, string field)
    {
        var pointer = PointerOf(field);
        var cut = pointer.LastIndexOf('/');
        var parent = cut < 0 ? "" : pointer[..cut];
        var quotedName = "\"" + pointer[(cut + 1)..] + "\"";
        return errors.Any(e =>
            e.InstanceLocation == pointer
            || (e.InstanceLocation == parent && e.Message.Contains(quotedName, StringComparison.Ordinal)));
    }

    /// <summary><c>data.input[0].role</c> → <c>/data/input/0/role</c>; <c>$</c> → the root.</summary>
    public static string PointerOf(string field) =>
        field == "$" ? "" : "/" + field.Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal).Replace('.', '/');
}
