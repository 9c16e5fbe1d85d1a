namespace FeedbackLoop.Pipelines;

/// <summary>
/// A pipelines file that cannot be used. The message reads <c>file:line:column: field.path: reason</c>, the form
/// editors and CI logs turn into a link, so the person fixing it lands on the offending key.
/// </summary>
public sealed class PipelineException : Exception
{
    /// <summary>Creates the exception for a problem at <paramref name="line"/>:<paramref name="column"/> of <paramref name="sourceName"/>.</summary>
    public PipelineException(string sourceName, long line, long column, string field, string reason)
        : base($"{sourceName}:{line}:{column}: {field}: {reason}")
    {
        SourceName = sourceName;
        Line = line;
        Column = column;
        Field = field;
        Reason = reason;
    }

    /// <summary>The file (or other source) that was read.</summary>
    public string SourceName { get; }

    /// <summary>1-based line of the offending node.</summary>
    public long Line { get; }

    /// <summary>1-based column of the offending node.</summary>
    public long Column { get; }

    /// <summary>The dotted path of the field, e.g. <c>apps.demo.split.eval_fraction</c>; <c>(root)</c> for the document itself.</summary>
    public string Field { get; }

    /// <summary>What is wrong, and what would be right.</summary>
    public string Reason { get; }
}
