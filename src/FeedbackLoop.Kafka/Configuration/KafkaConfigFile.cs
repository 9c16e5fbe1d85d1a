using System.Text;

namespace FeedbackLoop.Kafka.Configuration;

/// <summary>
/// Reads a librdkafka properties file, the format <c>kcat -F</c> and the Kafka tools take: one <c>key=value</c> a line,
/// <c>#</c> or <c>!</c> starts a comment line, blank lines are skipped, spaces around key and value are dropped.
/// <c>${NAME}</c> in a value is replaced by the environment variable NAME, so secrets stay out of the file;
/// <c>$${</c> writes a literal <c>${</c>. Every error names the line and the key, never a value (values may be secrets).
/// </summary>
public static class KafkaConfigFile
{
    /// <summary>Reads and checks the file; throws <see cref="KafkaConfigException"/> listing every problem found.</summary>
    public static KafkaClientProperties Load(string path, Func<string, string?> environment)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KafkaConfigException($"--kafka-config {path}: cannot be read ({e.GetType().Name}); give the path of a librdkafka properties file (key=value lines).");
        }
        var (properties, errors) = Parse(text, environment);
        if (errors.Count > 0)
            throw new KafkaConfigException($"--kafka-config {path}:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors));
        return properties!;
    }

    /// <summary>The properties, or the errors (each "line N: ...") when there is any; the pure part of <see cref="Load"/>.</summary>
    public static (KafkaClientProperties? Properties, IReadOnlyList<string> Errors) Parse(string text, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(environment);
        var errors = new List<string>();
        var pairs = new List<KeyValuePair<string, string>>();
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var number = i + 1;
            var line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] is '#' or '!') continue;
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                errors.Add($"line {number}: expected key=value (a librdkafka property such as security.protocol=SASL_SSL)");
                continue;
            }
            var key = line[..equals].Trim();
            if (!IsPropertyName(key))
            {
                errors.Add($"line {number}: '{key}' is not a librdkafka property name (lower case letters, digits, '.', '_')");
                continue;
            }
            if (firstLine.TryGetValue(key, out var first))
            {
                errors.Add($"line {number}: {key} is set twice (first on line {first}); keep one");
                continue;
            }
            firstLine[key] = number;
            var (value, problem) = Substitute(line[(equals + 1)..].Trim(), environment);
            if (problem is not null)
            {
                errors.Add($"line {number}: {key}: {problem}");
                continue;
            }
            if (value.Length == 0)
            {
                errors.Add($"line {number}: {key} has an empty value; give one or remove the line");
                continue;
            }
            if (KafkaSettingPolicy.Refusal(key, value) is { } reason)
            {
                errors.Add($"line {number}: {key} may not be set here: {reason}");
                continue;
            }
            pairs.Add(new(key, value));
        }
        return errors.Count > 0 ? (null, errors) : (new KafkaClientProperties(pairs), errors);
    }

    private static bool IsPropertyName(string key) =>
        key.Length > 0 && key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_');

    private static (string Value, string? Problem) Substitute(string raw, Func<string, string?> environment)
    {
        var result = new StringBuilder(raw.Length);
        var i = 0;
        while (i < raw.Length)
        {
            if (raw[i] == '$' && i + 2 < raw.Length && raw[i + 1] == '$' && raw[i + 2] == '{')
            {
                result.Append("${");
                i += 3;
                continue;
            }
            if (raw[i] == '$' && i + 1 < raw.Length && raw[i + 1] == '{')
            {
                var end = raw.IndexOf('}', i + 2);
                if (end < 0) return ("", "'${' without a closing '}' (write $${ for a literal ${)");
                var name = raw[(i + 2)..end];
                if (!IsVariableName(name)) return ("", $"'${{{name}}}' is not an environment variable name (letters, digits, '_')");
                var value = environment(name);
                if (value is null) return ("", $"environment variable {name} is not set; export it before starting (it holds this setting's value)");
                if (value.Length == 0) return ("", $"environment variable {name} is empty");
                result.Append(value);
                i = end + 1;
                continue;
            }
            result.Append(raw[i]);
            i++;
        }
        return (result.ToString(), null);
    }

    private static bool IsVariableName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}

/// <summary>A <c>--kafka-config</c> file that cannot be used; the message says where and why, never a value.</summary>
public sealed class KafkaConfigException : Exception
{
    /// <summary>An error without a message.</summary>
    public KafkaConfigException() { }

    /// <summary>An error with its message.</summary>
    public KafkaConfigException(string message) : base(message) { }

    /// <summary>An error with its message and cause.</summary>
    public KafkaConfigException(string message, Exception innerException) : base(message, innerException) { }
}
