using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FeedbackLoop.Orchestration.Pipelines;

/// <summary>
/// Walks the YAML representation model by hand rather than deserializing, because every error must carry the
/// line and column of the node it is about, and because an unknown or misspelt key must fail instead of being
/// ignored (a misspelt <c>weigth</c> silently leaving weight 1.0 would be found only in a worse model).
/// Sections are read on top of a base value, so any field left out keeps the base's value.
/// </summary>
internal sealed partial class PipelineReader(string sourceName)
{
    private const string Root = "(root)";

    private static readonly string[] RootFields = ["apps", "defaults"];
    private static readonly string[] AppFields = ["rules", "retrain", "split", "trainer", "eval", "gate"];
    private static readonly string[] RuleFields = ["comparison", "edit", "regenerate", "thumbs", "labels"];
    private static readonly string[] SignalFields = ["enabled", "weight"];
    private static readonly string[] LabelFields = ["enabled"];
    private static readonly string[] RetrainFields = ["min_new_pairs"];
    private static readonly string[] SplitFields = ["eval_fraction"];
    private static readonly string[] EvalFields = ["metric"];
    private static readonly string[] GateFields = ["margin", "require_signoff"];

    // Each trainer kind brings its own fields; the `command` kind will add its own entry here.
    private static readonly Dictionary<string, string[]> TrainerFields = new(StringComparer.Ordinal)
    {
        [TrainerSettings.MlNetReward] = ["kind", "seed"],
    };

    public PipelineDefinition Read(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new PipelineException(sourceName, e.Start.Line, e.Start.Column, "(yaml)", SyntaxReason(e));
        }

        if (stream.Documents.Count == 0)
        {
            throw new PipelineException(sourceName, 1, 1, Root, "the file is empty; expected a mapping with 'apps' and/or 'defaults'");
        }

        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode.Start;
            throw new PipelineException(sourceName, second.Line, second.Column, Root, "expected one YAML document, found another one here");
        }

        var rootNode = stream.Documents[0].RootNode;
        if (rootNode is not YamlMappingNode root)
        {
            throw new PipelineException(sourceName, rootNode.Start.Line, rootNode.Start.Column, Root,
                $"expected a mapping with 'apps' and/or 'defaults', got {Describe(rootNode)}");
        }

        var fields = FieldsOf(root, path: null, RootFields);

        // `defaults` is read first wherever it appears, because every app section is read on top of it.
        var defaults = fields.TryGetValue("defaults", out var defaultsField)
            ? ReadApp(defaultsField, AppPipeline.Builtin)
            : AppPipeline.Builtin;

        var apps = new Dictionary<string, AppPipeline>(StringComparer.Ordinal);
        if (fields.TryGetValue("apps", out var appsField) && MappingOf(appsField) is { } appsMap)
        {
            foreach (var app in FieldsOf(appsMap, appsField.Path, allowed: null).Values)
            {
                if (!AppIdPattern().IsMatch(app.Name))
                {
                    Fail(app, app.Name == "*"
                        ? "'*' is not an app id; settings for every app not listed go under the top-level 'defaults'"
                        : $"an app id is 1 to 64 characters of a-z, 0-9, '.', '_' or '-' (as in events' app_id), got \"{app.Name}\"");
                }

                apps.Add(app.Name, ReadApp(app, defaults));
            }
        }

        return new PipelineDefinition(sourceName, defaults, apps);
    }

    private AppPipeline ReadApp(Field section, AppPipeline basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, AppFields).Values)
        {
            result = field.Name switch
            {
                "rules" => result with { Rules = ReadRules(field, result.Rules) },
                "retrain" => result with { Retrain = ReadRetrain(field, result.Retrain) },
                "split" => result with { Split = ReadSplit(field, result.Split) },
                "trainer" => result with { Trainer = ReadTrainer(field, result.Trainer) },
                "eval" => result with { Eval = ReadEval(field, result.Eval) },
                "gate" => result with { Gate = ReadGate(field, result.Gate) },
                _ => throw new InvalidOperationException($"unhandled field {field.Path}"),
            };
        }

        return result;
    }

    private PairRules ReadRules(Field section, PairRules basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, RuleFields).Values)
        {
            result = field.Name switch
            {
                "comparison" => result with { Comparison = ReadSignal(field, result.Comparison) },
                "edit" => result with { Edit = ReadSignal(field, result.Edit) },
                "regenerate" => result with { Regenerate = ReadSignal(field, result.Regenerate) },
                "thumbs" => result with { Thumbs = ReadSignal(field, result.Thumbs) },
                "labels" => result with { LabelsEnabled = ReadLabels(field, result.LabelsEnabled) },
                _ => throw new InvalidOperationException($"unhandled field {field.Path}"),
            };
        }

        return result;
    }

    private SignalRule ReadSignal(Field section, SignalRule basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, SignalFields).Values)
        {
            if (field.Name == "enabled")
            {
                result = result with { Enabled = BooleanOf(field) };
                continue;
            }

            var weight = NumberOf(field, out var text);
            if (weight < 0)
            {
                Fail(field, $"must be at least 0, got {text}");
            }

            result = result with { Weight = weight };
        }

        return result;
    }

    private bool ReadLabels(Field section, bool basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var fields = FieldsOf(map, section.Path, LabelFields);
        return fields.TryGetValue("enabled", out var enabled) ? BooleanOf(enabled) : basis;
    }

    private RetrainSettings ReadRetrain(Field section, RetrainSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var fields = FieldsOf(map, section.Path, RetrainFields);
        if (!fields.TryGetValue("min_new_pairs", out var field))
        {
            return basis;
        }

        var minNewPairs = IntegerOf(field);
        if (minNewPairs < 1)
        {
            Fail(field, $"must be at least 1, got {minNewPairs.ToString(CultureInfo.InvariantCulture)}");
        }

        return new RetrainSettings(minNewPairs);
    }

    private SplitSettings ReadSplit(Field section, SplitSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var fields = FieldsOf(map, section.Path, SplitFields);
        if (!fields.TryGetValue("eval_fraction", out var field))
        {
            return basis;
        }

        // Both ends are excluded: an empty eval set cannot gate, an empty train set cannot train.
        var fraction = NumberOf(field, out var text);
        if (fraction is <= 0 or >= 1)
        {
            Fail(field, $"must be between 0 and 1 (exclusive), got {text}");
        }

        return new SplitSettings(fraction);
    }

    private TrainerSettings ReadTrainer(Field section, TrainerSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        // The kind decides which other fields are valid, so it is read before them. A kind given here
        // starts from that kind's defaults rather than the basis, whose fields may belong to another kind.
        var kindNode = map.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: "kind" });
        var result = basis;
        if (kindNode.Key is not null)
        {
            var kindField = new Field("kind", $"{section.Path}.kind", kindNode.Key, kindNode.Value);
            var kind = TextOf(kindField);
            if (!TrainerFields.ContainsKey(kind))
            {
                Fail(kindField, $"unknown trainer kind \"{kind}\"; valid kinds: {string.Join(", ", TrainerSettings.Kinds)}");
            }

            result = kind == basis.Kind ? basis : TrainerSettings.Builtin with { Kind = kind };
        }

        foreach (var field in FieldsOf(map, section.Path, TrainerFields[result.Kind]).Values)
        {
            if (field.Name == "seed")
            {
                result = result with { Seed = IntegerOf(field) };
            }
        }

        return result;
    }

    private EvalSettings ReadEval(Field section, EvalSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var fields = FieldsOf(map, section.Path, EvalFields);
        if (!fields.TryGetValue("metric", out var field))
        {
            return basis;
        }

        var metric = TextOf(field);
        if (!EvalSettings.Metrics.Contains(metric, StringComparer.Ordinal))
        {
            Fail(field, $"unknown metric \"{metric}\"; valid metrics: {string.Join(", ", EvalSettings.Metrics)}");
        }

        return new EvalSettings(metric);
    }

    private GateSettings ReadGate(Field section, GateSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, GateFields).Values)
        {
            if (field.Name == "require_signoff")
            {
                result = result with { RequireSignoff = BooleanOf(field) };
                continue;
            }

            // The margin is in metric units and every metric is a fraction, so more than 1 can never pass.
            var margin = NumberOf(field, out var text);
            if (margin is < 0 or > 1)
            {
                Fail(field, $"must be between 0 and 1, got {text}");
            }

            result = result with { Margin = margin };
        }

        return result;
    }

    /// <summary>The entries of <paramref name="map"/> by name; fails on non-scalar, duplicate or (when <paramref name="allowed"/> is given) unknown keys.</summary>
    private Dictionary<string, Field> FieldsOf(YamlMappingNode map, string? path, string[]? allowed)
    {
        var fields = new Dictionary<string, Field>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                throw new PipelineException(sourceName, key.Start.Line, key.Start.Column, path ?? Root,
                    $"expected a plain key, got {Describe(key)}");
            }

            var field = new Field(name, path is null ? name : $"{path}.{name}", key, value);
            if (allowed is not null && !allowed.Contains(name, StringComparer.Ordinal))
            {
                Fail(field, $"unknown field; valid fields here: {string.Join(", ", allowed)}");
            }

            // Never a duplicate here: YamlDotNet refuses duplicate keys while loading (see SyntaxReason).
            fields.Add(name, field);
        }

        return fields;
    }

    /// <summary>The field's mapping, or null when the field is present but empty (which keeps every default).</summary>
    private YamlMappingNode? MappingOf(Field field) => field.Value switch
    {
        YamlMappingNode map => map,
        _ when IsNull(field.Value) => null,
        _ => throw Error(field, $"expected a mapping, got {Describe(field.Value)}"),
    };

    private bool BooleanOf(Field field)
    {
        // YAML 1.2 core schema booleans only: YAML 1.1's yes/no/on/off are exactly the ambiguity to refuse.
        if (field.Value is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text })
        {
            switch (text)
            {
                case "true" or "True" or "TRUE":
                    return true;
                case "false" or "False" or "FALSE":
                    return false;
            }
        }

        throw Error(field, $"expected true or false, got {Describe(field.Value)}");
    }

    private double NumberOf(Field field, out string text)
    {
        if (field.Value is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } value } && !IsNull(field.Value)
            && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && double.IsFinite(number))
        {
            text = value;
            return number;
        }

        throw Error(field, $"expected a number, got {Describe(field.Value)}");
    }

    private int IntegerOf(Field field)
    {
        if (field.Value is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } value } && !IsNull(field.Value)
            && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            return number is >= int.MinValue and <= int.MaxValue
                ? (int)number
                : throw Error(field, $"must be between {int.MinValue} and {int.MaxValue}, got {value}");
        }

        throw Error(field, $"expected a whole number, got {Describe(field.Value)}");
    }

    private string TextOf(Field field) =>
        field.Value is YamlScalarNode { Value: { Length: > 0 } text } && !IsNull(field.Value)
            ? text
            : throw Error(field, $"expected a name, got {Describe(field.Value)}");

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string Describe(YamlNode node) => node switch
    {
        _ when IsNull(node) => "nothing",
        YamlScalarNode { Style: ScalarStyle.Plain, Value: var text } => text ?? "nothing",
        YamlScalarNode { Value: var text } => $"the string \"{text}\"",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => node.NodeType.ToString(),
    };

    // YamlDotNet prefixes its message with the position, which our own prefix already gives.
    private static string SyntaxReason(YamlException e)
    {
        const string DuplicateKey = "Duplicate key ";
        var message = e.Message;
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        var reason = message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
        return reason.StartsWith(DuplicateKey, StringComparison.Ordinal)
            ? $"the key '{reason[DuplicateKey.Length..]}' appears twice in the same mapping"
            : reason;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Fail(Field field, string reason) => throw Error(field, reason);

    private PipelineException Error(Field field, string reason) =>
        new(sourceName, field.Key.Start.Line, field.Key.Start.Column, field.Path, reason);

    // Matches app_id in schemas/events: the ids the extractors will ever see.
    [GeneratedRegex("^[a-z0-9._-]{1,64}$")]
    private static partial Regex AppIdPattern();

    /// <summary>One key of a mapping: its name, dotted path, and both nodes (errors point at the key).</summary>
    private readonly record struct Field(string Name, string Path, YamlNode Key, YamlNode Value);
}
