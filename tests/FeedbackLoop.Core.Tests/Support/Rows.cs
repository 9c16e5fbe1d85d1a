using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests.Support;

/// <summary>Rows written the way the tables state them, so a failing assertion shows which rule misfired.</summary>
internal static class Rows
{
    /// <summary><c>"signal chosen&gt;rejected"</c>, e.g. <c>"comparison a&gt;b"</c>, in order.</summary>
    public static string[] PairsOf(Extractor extractor) => extractor.Output.Pairs.Select(Describe).Order(StringComparer.Ordinal).ToArray();

    /// <summary><c>"generation user label"</c>, e.g. <c>"g1 u1 True"</c>, in order.</summary>
    public static string[] LabelsOf(Extractor extractor) => extractor.Output.Labels.Select(Describe).Order(StringComparer.Ordinal).ToArray();

    public static string Describe(PreferencePair pair) => $"{pair.Signal} {pair.ChosenGenerationId}>{pair.RejectedGenerationId}";

    public static string Describe(FeedbackLabel label) => $"{label.GenerationId} {label.UserId} {label.Label}";

    public static string[] Sorted(params string[] rows) => rows.Order(StringComparer.Ordinal).ToArray();
}
