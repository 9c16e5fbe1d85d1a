using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Progress marks on a real disk, written as a set: a later instance reads each partition's mark back for the same log only,
/// a mark never moves back, and no temporary is left behind.
/// </summary>
public sealed class ProgressMarksTests
{
    private static readonly LogOrigin Origin = new("cluster-a", "topic-1");

    [Fact]
    public void Marks_written_together_are_read_back_by_the_next_instance_and_never_move_back()
    {
        using var root = new TempFolder("progress-marks");
        var writer = new ProgressMarks(root.Path, NullLogger.Instance);
        writer.Bind(Origin);

        writer.SetAll([(0, 120), (1, 7), (5, 90_000)]);
        writer.SetAll([(0, 100), (1, 8)]);

        var reader = new ProgressMarks(root.Path, NullLogger.Instance);
        reader.Bind(Origin);
        Assert.Equal((120L, 8L, 90_000L, 0L), (reader.Get(0), reader.Get(1), reader.Get(5), reader.Get(2)));
        var foreign = new ProgressMarks(root.Path, NullLogger.Instance);
        foreign.Bind(Origin with { ClusterId = "cluster-b" });
        Assert.Equal(0, foreign.Get(0));
        Assert.DoesNotContain(Directory.EnumerateFiles(root.Path), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_a_known_log_nothing_is_written()
    {
        using var root = new TempFolder("progress-marks");
        var marks = new ProgressMarks(root.Combine("marks"), NullLogger.Instance);
        marks.Bind(null);

        marks.SetAll([(0, 120)]);

        Assert.False(Directory.Exists(root.Combine("marks")));
    }
}
