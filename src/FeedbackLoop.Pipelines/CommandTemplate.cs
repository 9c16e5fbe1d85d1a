using System.Text;

namespace FeedbackLoop.Pipelines;

/// <summary>
/// A command a worker runs, as argument templates with <c>{placeholder}</c>s. The text form splits into arguments
/// like a POSIX shell word list (whitespace separates; <c>'…'</c> is literal; inside <c>"…"</c> a backslash escapes
/// <c>"</c> and <c>\</c>; outside quotes a backslash escapes the next character), but nothing ever goes through a
/// shell: no globbing, variables, pipes or redirections. A placeholder's value is substituted inside its argument
/// and never splits it, so a path or JSON value with spaces or quotes stays one argument. <c>{{</c> and <c>}}</c>
/// are literal braces.
/// </summary>
public sealed class CommandTemplate : IEquatable<CommandTemplate>
{
    private readonly string[] _arguments;

    private CommandTemplate(string[] arguments, IReadOnlySet<string> placeholders)
    {
        _arguments = arguments;
        Placeholders = placeholders;
    }

    /// <summary>The argument templates; the first is the program.</summary>
    public IReadOnlyList<string> Arguments => _arguments;

    /// <summary>The placeholder names the arguments use.</summary>
    public IReadOnlySet<string> Placeholders { get; }

    /// <summary>Splits <paramref name="text"/> into argument templates.</summary>
    /// <exception cref="FormatException">An unclosed quote, a trailing backslash, a bad placeholder, or no program at all.</exception>
    public static CommandTemplate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var arguments = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case ' ' or '\t' or '\n' or '\r':
                    if (inWord)
                    {
                        arguments.Add(current.ToString());
                        current.Clear();
                        inWord = false;
                    }

                    break;
                case '\'':
                    var close = text.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        throw new FormatException($"the single quote at character {i + 1} is never closed");
                    }

                    current.Append(text, i + 1, close - i - 1);
                    i = close;
                    inWord = true;
                    break;
                case '"':
                    var start = i;
                    for (i++; ; i++)
                    {
                        if (i >= text.Length)
                        {
                            throw new FormatException($"the double quote at character {start + 1} is never closed");
                        }

                        if (text[i] == '"')
                        {
                            break;
                        }

                        if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\')
                        {
                            i++;
                        }

                        current.Append(text[i]);
                    }

                    inWord = true;
                    break;
                case '\\':
                    if (i + 1 >= text.Length)
                    {
                        throw new FormatException("the command ends with a lone backslash");
                    }

                    current.Append(text[++i]);
                    inWord = true;
                    break;
                default:
                    current.Append(c);
                    inWord = true;
                    break;
            }
        }

        if (inWord)
        {
            arguments.Add(current.ToString());
        }

        return FromArguments(arguments);
    }

    /// <summary>Takes the argument templates as they are (a YAML list, or a stored job).</summary>
    /// <exception cref="FormatException">No program, an empty program, or a bad placeholder.</exception>
    public static CommandTemplate FromArguments(IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var array = arguments.ToArray();
        if (array.Length == 0 || array[0].Length == 0)
        {
            throw new FormatException("the command names no program");
        }

        var placeholders = new HashSet<string>(StringComparer.Ordinal);
        foreach (var argument in array)
        {
            Scan(argument, name => placeholders.Add(name), _ => { });
        }

        return new CommandTemplate(array, placeholders);
    }

    /// <summary>The arguments with every placeholder replaced by its value.</summary>
    /// <exception cref="KeyNotFoundException">A placeholder has no value.</exception>
    public IReadOnlyList<string> Expand(IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var expanded = new string[_arguments.Length];
        for (var i = 0; i < _arguments.Length; i++)
        {
            var builder = new StringBuilder();
            Scan(_arguments[i],
                name => builder.Append(values.TryGetValue(name, out var value)
                    ? value
                    : throw new KeyNotFoundException($"the command uses {{{name}}}, which has no value here")),
                literal => builder.Append(literal));
            expanded[i] = builder.ToString();
        }

        return expanded;
    }

    /// <summary>The template as one line, each argument quoted where needed (for logs and error messages).</summary>
    public override string ToString() => Display(_arguments);

    /// <summary>Arguments as one line a person can read and paste into a shell.</summary>
    public static string Display(IEnumerable<string> arguments) =>
        string.Join(' ', arguments.Select(a => a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%{}".Contains(c, StringComparison.Ordinal))
            ? a
            : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));

    /// <inheritdoc />
    public bool Equals(CommandTemplate? other) => other is not null && _arguments.SequenceEqual(other._arguments, StringComparer.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as CommandTemplate);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var argument in _arguments)
        {
            hash.Add(argument, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    // Walks one argument: literal runs go to onLiteral, placeholder names to onPlaceholder.
    private static void Scan(string argument, Action<string> onPlaceholder, Action<string> onLiteral)
    {
        var literal = new StringBuilder();
        for (var i = 0; i < argument.Length; i++)
        {
            var c = argument[i];
            if (c == '{' && i + 1 < argument.Length && argument[i + 1] == '{')
            {
                literal.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < argument.Length && argument[i + 1] == '}')
            {
                literal.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var end = argument.IndexOf('}', i + 1);
                var name = end < 0 ? null : argument[(i + 1)..end];
                if (name is null || name.Length == 0 || !name.All(ch => ch is (>= 'a' and <= 'z') or '_'))
                {
                    throw new FormatException(
                        $"'{{' at character {i + 1} of argument \"{argument}\" does not start a {{placeholder}} (lowercase letters and '_'); write {{{{ for a literal brace");
                }

                if (literal.Length > 0)
                {
                    onLiteral(literal.ToString());
                    literal.Clear();
                }

                onPlaceholder(name);
                i = end;
            }
            else if (c == '}')
            {
                throw new FormatException($"'}}' at character {i + 1} of argument \"{argument}\" closes no placeholder; write }}}} for a literal brace");
            }
            else
            {
                literal.Append(c);
            }
        }

        if (literal.Length > 0)
        {
            onLiteral(literal.ToString());
        }
    }
}
