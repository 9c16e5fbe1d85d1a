using System.Globalization;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Review.Queue;

/// <summary>
/// The list page's filter form read as the review query's filter: signal, model version (either side), a time range (UTC
/// dates or times, from inclusive, to exclusive), text in the prompt or either answer (case-insensitive, literal) and review
/// state. An empty or unparsable field matches everything; the text is cut to <see cref="MaxTextLength"/>.
/// </summary>
public static class PairFilter
{
    /// <summary>The longest text searched for, in characters.</summary>
    public const int MaxTextLength = 200;

    /// <summary>The query filter the form's fields ask for.</summary>
    public static ReviewFilter FromForm(string? signal, string? model, string? from, string? to, string? text, string? state) => new(
        Signal: Field(signal),
        ModelVersion: Field(model),
        From: Date(from),
        To: Date(to),
        Text: Field(text) is { } t && t.Length > MaxTextLength ? t[..MaxTextLength] : Field(text),
        ReviewAction: Field(state));

    private static string? Field(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static DateTimeOffset? Date(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at : null;
}
