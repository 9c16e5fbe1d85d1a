using FeedbackLoop.Cli.Commands;
using Microsoft.Extensions.Configuration;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// How often <c>extract</c> writes rows and takes checkpoints, from its configuration: absent keys keep the loop's
/// defaults, a value that is not a whole number of seconds (or records, or bytes) in range is refused by its key.
/// </summary>
public sealed class ExtractCadenceConfigTests
{
    public static TheoryData<string, string, string?> Values => new()
    {
        { ExtractionBudgetConfig.FlushSecondsKey, "60", null },
        { ExtractionBudgetConfig.FlushSecondsKey, "86400", null },
        { ExtractionBudgetConfig.FlushSecondsKey, "0", ExtractionBudgetConfig.FlushSecondsKey },
        { ExtractionBudgetConfig.FlushSecondsKey, "1.5", ExtractionBudgetConfig.FlushSecondsKey },
        { ExtractionBudgetConfig.FlushSecondsKey, "86401", ExtractionBudgetConfig.FlushSecondsKey },
        { ExtractionBudgetConfig.FlushSecondsKey, "-1", ExtractionBudgetConfig.FlushSecondsKey },
        { ExtractionBudgetConfig.CheckpointSecondsKey, "0", ExtractionBudgetConfig.CheckpointSecondsKey },
        { ExtractionBudgetConfig.CheckpointMaxRecordsKey, "many", ExtractionBudgetConfig.CheckpointMaxRecordsKey },
        { ExtractionBudgetConfig.MaxCheckpointBytesKey, "2147483648", ExtractionBudgetConfig.MaxCheckpointBytesKey },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void A_value_in_range_is_taken_and_any_other_is_refused_by_its_key(string key, string value, string? refused)
    {
        var read = ExtractionBudgetConfig.ReadCadence(Configuration((key, value)));

        Assert.Equal(refused, read.InvalidKey);
        if (refused is null && key == ExtractionBudgetConfig.FlushSecondsKey)
            Assert.Equal(TimeSpan.FromSeconds(long.Parse(value, System.Globalization.CultureInfo.InvariantCulture)), read.Flush);
    }

    [Fact]
    public void Without_keys_the_loops_defaults_hold()
    {
        var read = ExtractionBudgetConfig.ReadCadence(Configuration());

        Assert.Null(read.InvalidKey);
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 100_000L), (read.Flush, read.Interval, read.MaxRecords));
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
