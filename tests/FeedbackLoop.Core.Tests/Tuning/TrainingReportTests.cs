using FeedbackLoop.Core.Tuning;

namespace FeedbackLoop.Core.Tests.Tuning;

/// <summary>A tuning job's metrics.json read once into a typed report, and written back without losing a field.</summary>
public sealed class TrainingReportTests
{
    [Theory]
    // metrics.json, train pairs (-1: none), train accuracy (-1: none), seconds (-1: none), written back
    [InlineData("""{"train_pairs":12,"train_accuracy":0.75,"seconds":1.5}""", 12, 0.75, 1.5, """{"train_pairs":12,"train_accuracy":0.75,"seconds":1.5}""")]
    [InlineData("""{"loss":0.1,"train_pairs":3}""", 3, -1, -1, """{"train_pairs":3,"loss":0.1}""")] // a subset, plus the trainer's own fields
    [InlineData("""{}""", -1, -1, -1, """{}""")]
    [InlineData("""{"train_pairs":"12","train_accuracy":null}""", -1, -1, -1, """{"train_pairs":"12","train_accuracy":null}""")] // not numbers: kept, not read
    [InlineData("""{"train_pairs":1.5}""", -1, -1, -1, """{"train_pairs":1.5}""")] // not a whole number
    [InlineData("""{"eval":{"a":[1,2]},"train_accuracy":1}""", -1, 1.0, -1, """{"train_accuracy":1,"eval":{"a":[1,2]}}""")]
    public void Reads_the_numbers_and_keeps_every_other_field(string json, int pairs, double accuracy, double seconds, string written)
    {
        var report = TrainingReport.Parse(json);

        Assert.Equal(pairs < 0 ? null : pairs, report.TrainPairs);
        Assert.Equal(accuracy < 0 ? null : accuracy, report.TrainAccuracy);
        Assert.Equal(seconds < 0 ? null : seconds, report.Seconds);
        Assert.Equal(written, report.ToJson());
        Assert.Equal(written, TrainingReport.Parse(report.ToJson()).ToJson());
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("12")]
    [InlineData("accuracy=0.7")]
    [InlineData("")]
    public void Anything_but_a_json_object_is_refused(string json) =>
        Assert.Throws<InvalidDataException>(() => TrainingReport.Parse(json));

    [Fact]
    public void The_in_process_trainer_reports_rounded_numbers()
    {
        var report = TrainingReport.Of(new TrainingMetrics(250, 0.712345678, 3.14159));

        Assert.Equal("""{"train_pairs":250,"train_accuracy":0.7123,"seconds":3.14}""", report.ToJson());
    }
}
