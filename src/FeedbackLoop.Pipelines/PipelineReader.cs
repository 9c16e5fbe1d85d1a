using System.Globalization;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Gating;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FeedbackLoop.Pipelines;

/// <summary>
/// Walks the YAML representation model by hand rather than deserializing, because every error must carry the
/// line and column of the node it is about, and because an unknown or misspelt key must fail instead of being
/// ignored (a misspelt <c>weigth</c> silently leaving weight 1.0 would be found only in a worse model).
/// Sections are read on top of a base value, so any field left out keeps the base's value.
/// </summary>
internal sealed class PipelineReader(string sourceName)
{
    private const string Root = "(root)";

    private static readonly string[] RootFields = ["apps", "defaults"];
    private static readonly string[] AppFields = ["rules", "retrain", "split", "trainer", "eval", "jobs", "gate", "rollout", "review"];
    private static readonly string[] RuleFields = ["comparison", "edit", "regenerate", "thumbs", "labels"];
    private static readonly string[] SignalFields = ["enabled", "weight"];
    private static readonly string[] LabelFields = ["enabled"];
    private static readonly string[] RetrainFields = ["min_new_pairs"];
    private static readonly string[] SplitFields = ["eval_fraction"];
    private static readonly string[] EvalFields = ["metric", "command", "extra_commands", "timeout", "pool", "recency"];
    private static readonly string[] RecencyFields = ["window", "min_pairs"];
    private static readonly string[] JobFields = ["max_attempts", "retry_backoff", "heartbeat_timeout"];
    private static readonly string[] GateFields = ["margin", "require_signoff"];
    private static readonly string[] RolloutFields = ["canary_percent", "max_duration"];
    private static readonly string[] ReviewFields = ["required", "min_reviewed_fraction"];

    // Each trainer kind brings its own fields.
    private static readonly Dictionary<string, string[]> TrainerFields = new(StringComparer.Ordinal)
    {
        [TrainerSettings.MlNetReward] = ["kind", "seed", "timeout", "pool"],
        [TrainerSettings.CommandKind] = ["kind", "seed", "timeout", "command", "base_model", "params", "pool"],
    };

    // The longest a job may be allowed to run or wait: beyond a week a value is a typo, not a plan.
    private static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);
    private const int MaxAttemptsLimit = 100;
    private const int MaxMinEvalPairs = 1_000_000;

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
                if (!AppIds.IsValid(app.Name))
                {
                    Fail(app, app.Name == "*"
                        ? "'*' is not an app id; list each app that may train under 'apps' (settings they share go under the top-level 'defaults')"
                        : $"an app id is {AppIds.Rule} (as in events' app_id), got \"{app.Name}\"");
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
                "jobs" => result with { Jobs = ReadJobs(field, result.Jobs) },
                "gate" => result with { Gate = ReadGate(field, result.Gate) },
                "rollout" => result with { Rollout = ReadRollout(field, result.Rollout) },
                "review" => result with { Review = ReadReview(field, result.Review) },
                _ => throw new InvalidOperationException($"unhandled field {field.Path}"),
            };
        }

        // Checked on the layered result: the trainer and its evaluator may come from different layers.
        if (result.Trainer.Kind == TrainerSettings.CommandKind && result.Eval.Command is null)
        {
            Fail(section, "trainer.kind is command, so eval.command is needed: the command that scores {model} and writes {output}/metrics.json");
        }

        if (result.Trainer.Kind != TrainerSettings.CommandKind && result.Eval.Command is not null)
        {
            Fail(section, $"eval.command is used only with trainer kind command; trainer.kind is {result.Trainer.Kind}, which scores inside the worker (set eval.command: null to clear an inherited one)");
        }

        // A command evaluator reads the snapshot's files itself and chooses its own pairs; the worker cannot narrow them.
        if (result.Trainer.Kind == TrainerSettings.CommandKind && result.Eval.Recency is not null)
        {
            Fail(section, $"eval.recency is used only with the in-process evaluator (trainer kind {TrainerSettings.MlNetReward}); a command evaluator chooses its own pairs (set eval.recency: null to clear an inherited one)");
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

            result = kind == basis.Kind ? basis : TrainerSettings.DefaultsFor(kind);
        }

        foreach (var field in FieldsOf(map, section.Path, TrainerFields[result.Kind]).Values)
        {
            result = field.Name switch
            {
                "kind" => result,
                "seed" => result with { Seed = IntegerOf(field) },
                "timeout" => result with { Timeout = DurationOf(field) },
                "command" => result with { Command = CommandOf(field, TemplateVariables.ForTrainer) },
                "base_model" => result with { BaseModel = TextOf(field) },
                "params" => result with { ParamsJson = ParamsOf(field) },
                "pool" => result with { Pool = PoolOf(field) },
                _ => throw new InvalidOperationException($"unhandled field {field.Path}"),
            };
        }

        if (result.Kind == TrainerSettings.CommandKind && result.Command is null)
        {
            Fail(section, "trainer.kind is command, so trainer.command is needed: the program and arguments that train into {output}");
        }

        return result;
    }

    private EvalSettings ReadEval(Field section, EvalSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, EvalFields).Values)
        {
            switch (field.Name)
            {
                case "metric":
                    var metric = TextOf(field);
                    if (!EvalSettings.Metrics.Contains(metric, StringComparer.Ordinal))
                    {
                        Fail(field, $"unknown metric \"{metric}\"; valid metrics: {string.Join(", ", EvalSettings.Metrics)}");
                    }

                    result = result with { Metric = metric };
                    break;
                case "command":
                    result = result with { Command = IsNull(field.Value) ? null : CommandOf(field, TemplateVariables.ForEval) };
                    break;
                case "extra_commands":
                    result = result with { ExtraCommands = ExtraCommandsOf(field) };
                    break;
                case "timeout":
                    result = result with { Timeout = DurationOf(field) };
                    break;
                case "pool":
                    result = result with { Pool = IsNull(field.Value) ? null : PoolOf(field) };
                    break;
                case "recency":
                    result = result with { Recency = IsNull(field.Value) ? null : ReadRecency(field, result.Recency) };
                    break;
                default:
                    throw new InvalidOperationException($"unhandled field {field.Path}");
            }
        }

        return result;
    }

    /// <summary>
    /// <c>eval.recency</c>: a window (required unless inherited) and a minimum count. Read on top of an inherited one, so an
    /// app can change only the minimum; <c>recency: null</c> turns an inherited one off.
    /// </summary>
    private RecentEvalPairs ReadRecency(Field section, RecentEvalPairs? basis)
    {
        if (section.Value is not YamlMappingNode map)
        {
            throw Error(section, $"expected a mapping with window (e.g. 30m) and min_pairs, or null to score every held-out pair; got {Describe(section.Value)}");
        }

        var fields = FieldsOf(map, section.Path, RecencyFields);
        TimeSpan window;
        if (fields.TryGetValue("window", out var windowField))
        {
            window = DurationOf(windowField);
        }
        else
        {
            window = basis?.Window ?? throw Error(section, "needs window: how far back from the newest held-out pair a pair is scored (e.g. 30m)");
        }

        var minPairs = basis?.MinPairs ?? RecentEvalPairs.DefaultMinPairs;
        if (fields.TryGetValue("min_pairs", out var minField))
        {
            // Below 2 pairs the gate has no interval; a million is far beyond any held-out set and so a typo.
            minPairs = IntegerOf(minField);
            if (minPairs is < 2 or > MaxMinEvalPairs)
            {
                Fail(minField, $"must be between 2 and {MaxMinEvalPairs.ToString(CultureInfo.InvariantCulture)}, got {minPairs.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        return new RecentEvalPairs(window, minPairs);
    }

    /// <summary>A worker pool's name; it becomes part of a queue name, so only the safe characters pass.</summary>
    private string PoolOf(Field field)
    {
        var pool = TextOf(field);
        if (!Contracts.Bus.JobPools.IsValid(pool))
        {
            Fail(field, $"\"{pool}\" is not a pool name: {Contracts.Bus.JobPools.Rule}");
        }

        return pool;
    }

    private JobSettings ReadJobs(Field section, JobSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, JobFields).Values)
        {
            switch (field.Name)
            {
                case "max_attempts":
                    var attempts = IntegerOf(field);
                    if (attempts is < 1 or > MaxAttemptsLimit)
                    {
                        Fail(field, $"must be between 1 and {MaxAttemptsLimit}, got {attempts.ToString(CultureInfo.InvariantCulture)}");
                    }

                    result = result with { MaxAttempts = attempts };
                    break;
                case "retry_backoff":
                    result = result with { RetryBackoff = DurationOf(field) };
                    break;
                case "heartbeat_timeout":
                    result = result with { HeartbeatTimeout = DurationOf(field) };
                    break;
                default:
                    throw new InvalidOperationException($"unhandled field {field.Path}");
            }
        }

        return result;
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

    private RolloutSettings ReadRollout(Field section, RolloutSettings basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, RolloutFields).Values)
        {
            if (field.Name == "max_duration")
            {
                result = result with { MaxDuration = DurationOf(field) };
                continue;
            }

            // 100 would leave no stable sessions to compare with; 0 turns canaries off.
            var percent = IntegerOf(field);
            if (percent is < 0 or > RolloutSettings.MaxCanaryPercent)
            {
                Fail(field, $"must be between 0 (no canary: a promotion serves everyone at once) and {RolloutSettings.MaxCanaryPercent}, got {percent.ToString(CultureInfo.InvariantCulture)}");
            }

            result = result with { CanaryPercent = percent };
        }

        return result;
    }

    private ReviewPolicy ReadReview(Field section, ReviewPolicy basis)
    {
        if (MappingOf(section) is not { } map)
        {
            return basis;
        }

        var result = basis;
        foreach (var field in FieldsOf(map, section.Path, ReviewFields).Values)
        {
            if (field.Name == "required")
            {
                result = result with { Required = BooleanOf(field) };
                continue;
            }

            // 0 would make the option a no-op that looks like a policy; above 1 could never be met.
            var fraction = NumberOf(field, out var text);
            if (fraction is <= 0 or > 1)
            {
                Fail(field, $"must be above 0 and at most 1, got {text}");
            }

            result = result with { MinReviewedFraction = fraction };
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

    /// <summary>A command: a string split like a shell word list, or a list of arguments; only the given placeholders.</summary>
    private CommandTemplate CommandOf(Field field, IReadOnlyList<string> placeholders) => CommandOf(field, field.Value, placeholders);

    private CommandTemplate CommandOf(Field field, YamlNode node, IReadOnlyList<string> placeholders)
    {
        CommandTemplate command;
        try
        {
            command = node switch
            {
                YamlScalarNode { Value: { } text } when !IsNull(node) => CommandTemplate.Parse(text),
                YamlSequenceNode list => CommandTemplate.FromArguments(list.Children.Select(item => item is YamlScalarNode { Value: { } argument } && !IsNull(item)
                    ? argument
                    : throw Error(field, $"a command's arguments are strings, got {Describe(item)}"))),
                _ => throw Error(field, $"expected a command (a string, or a list of arguments), got {Describe(node)}"),
            };
        }
        catch (FormatException e)
        {
            throw Error(field, e.Message);
        }

        var unknown = command.Placeholders.Where(p => !placeholders.Contains(p, StringComparer.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            Fail(field, $"unknown placeholder {string.Join(", ", unknown.Select(p => "{" + p + "}"))}; valid here: {string.Join(" ", placeholders.Select(p => "{" + p + "}"))}");
        }

        return command;
    }

    private List<CommandTemplate> ExtraCommandsOf(Field field)
    {
        if (IsNull(field.Value))
        {
            return [];
        }

        if (field.Value is not YamlSequenceNode list)
        {
            throw Error(field, $"expected a list of commands, got {Describe(field.Value)}");
        }

        return list.Children.Select((item, i) => CommandOf(field with { Path = $"{field.Path}[{i}]", Key = item }, item, TemplateVariables.ForEval)).ToList();
    }

    /// <summary>A mapping turned into the JSON object the trainer gets as <c>{params}</c>.</summary>
    private string ParamsOf(Field field)
    {
        if (IsNull(field.Value))
        {
            return "{}";
        }

        if (field.Value is not YamlMappingNode map)
        {
            throw Error(field, $"expected a mapping of trainer parameters, got {Describe(field.Value)}");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            WriteJson(writer, map, field);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // Plain scalars keep their YAML 1.2 core type (number, true/false, null); quoted ones are strings.
    private void WriteJson(System.Text.Json.Utf8JsonWriter writer, YamlNode node, Field field)
    {
        switch (node)
        {
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (key, value) in map.Children)
                {
                    writer.WritePropertyName(key is YamlScalarNode { Value: { } name } ? name : throw Error(field, $"expected a plain key, got {Describe(key)}"));
                    WriteJson(writer, value, field);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode list:
                writer.WriteStartArray();
                foreach (var item in list.Children)
                {
                    WriteJson(writer, item, field);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar when IsNull(scalar):
                writer.WriteNullValue();
                break;
            case YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } boolean:
                writer.WriteBooleanValue(boolean.Value == "true");
                break;
            case YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text }
                when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number):
                writer.WriteRawValue(long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)
                    ? whole.ToString(CultureInfo.InvariantCulture)
                    : number.ToString("R", CultureInfo.InvariantCulture));
                break;
            case YamlScalarNode { Value: var text }:
                writer.WriteStringValue(text ?? "");
                break;
            default:
                throw Error(field, $"expected plain values, got {Describe(node)}");
        }
    }

    /// <summary>A duration such as <c>500ms</c>, <c>90s</c>, <c>5m</c>, <c>1.5h</c>: more than 0 and at most 7 days.</summary>
    private TimeSpan DurationOf(Field field)
    {
        if (field.Value is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text } && Durations.TryParse(text, out var duration))
        {
            return duration > TimeSpan.Zero && duration <= MaxDuration
                ? duration
                : throw Error(field, $"must be more than 0 and at most 7 days, got {text}");
        }

        throw Error(field, $"expected a duration such as 500ms, 90s, 5m or 1.5h, got {Describe(field.Value)}");
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

    /// <summary>One key of a mapping: its name, dotted path, and both nodes (errors point at the key).</summary>
    private readonly record struct Field(string Name, string Path, YamlNode Key, YamlNode Value);
}
