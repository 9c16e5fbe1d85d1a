using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Core.Extraction;

/// <summary>Rows produced since the last drain; the host writes them durably, then commits offsets.</summary>
public sealed class ExtractionOutput
{
    /// <summary>New preference pairs, in the order the rules fired.</summary>
    public List<PreferencePair> Pairs { get; } = [];
    /// <summary>New unpaired labels.</summary>
    public List<FeedbackLabel> Labels { get; } = [];
    /// <summary>Engagement windows that closed.</summary>
    public List<EngagementWindow> Windows { get; } = [];

    /// <summary>Whether there is anything to write.</summary>
    public bool IsEmpty => Pairs.Count == 0 && Labels.Count == 0 && Windows.Count == 0;

    /// <summary>Moves every row into a new output and leaves this one empty, so rows can be written
    /// elsewhere while extraction goes on.</summary>
    public ExtractionOutput TakeAll()
    {
        var taken = new ExtractionOutput();
        taken.Pairs.AddRange(Pairs);
        taken.Labels.AddRange(Labels);
        taken.Windows.AddRange(Windows);
        Clear();
        return taken;
    }

    /// <summary>Empties the output after it was written.</summary>
    public void Clear()
    {
        Pairs.Clear();
        Labels.Clear();
        Windows.Clear();
    }
}
