using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>The files are loadable as TRL's conversational formats: the snake_case columns of docs/contract/datasets.md, nested messages, real timestamps.</summary>
public sealed class ParquetSchemaTests : IDisposable
{
    private readonly TempFolder _folder = new("schema");
    private readonly string _root;

    // The store's root is not created here: the store creates what it writes.
    public ParquetSchemaTests() => _root = _folder.Combine("root");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Preference_pairs_have_the_columns_of_the_contract()
    {
        var schema = await SchemaOf(DatasetKinds.PreferencePairs);

        Assert.Equal(
            ["pair_id", "app_id", "prompt", "chosen", "rejected", "signal", "weight", "chosen_generation_id", "rejected_generation_id",
             "chosen_model_version", "rejected_model_version", "session_id", "user_id", "created_at"],
            schema.Fields.Select(f => f.Name));
        foreach (var messages in new[] { "prompt", "chosen", "rejected" }) AssertMessageList(schema, messages);
        AssertUtf8String(schema.Fields.Single(f => f.Name == "pair_id"));
        AssertUtf8String(schema.Fields.Single(f => f.Name == "signal"));
        AssertDataField<double>(schema, "weight");
    }

    [Fact]
    public async Task Feedback_labels_have_the_columns_of_the_contract()
    {
        var schema = await SchemaOf(DatasetKinds.FeedbackLabels);

        Assert.Equal(
            ["label_id", "app_id", "prompt", "completion", "label", "generation_id", "model_version", "session_id", "user_id", "created_at"],
            schema.Fields.Select(f => f.Name));
        AssertMessageList(schema, "prompt");
        AssertMessageList(schema, "completion");
        AssertDataField<bool>(schema, "label");
    }

    [Fact]
    public async Task Engagement_has_snake_case_count_and_percentile_columns()
    {
        var schema = await SchemaOf(DatasetKinds.Engagement);

        Assert.Equal(
            ["window_id", "app_id", "model_version", "variant", "window_start", "window_end", "shown", "thumbs_up", "thumbs_down",
             "regenerated", "edited", "copied", "accepted", "rejected", "comparisons_won", "comparisons_lost", "dwell_samples",
             "dwell_p50_ms", "dwell_p90_ms", "dwell_p99_ms", "partition"],
            schema.Fields.Select(f => f.Name));
        AssertDataField<long>(schema, "shown");
        AssertDataField<int>(schema, "partition");
        AssertDataField<double>(schema, "dwell_p50_ms");
        Assert.True(((DataField)schema.Fields.Single(f => f.Name == "dwell_p50_ms")).IsNullable);
    }

    [Theory]
    [InlineData(DatasetKinds.PreferencePairs, "created_at")]
    [InlineData(DatasetKinds.FeedbackLabels, "created_at")]
    [InlineData(DatasetKinds.Engagement, "window_start")]
    [InlineData(DatasetKinds.Engagement, "window_end")]
    public async Task Timestamps_are_int64_utc_microseconds_not_int96(string kind, string column)
    {
        var file = await WrittenFile(kind);
        var reader = await ParquetReader.CreateAsync(file);
        await using var _ = reader;

        var field = Assert.IsType<DateTimeDataField>(reader.Schema.Fields.Single(f => f.Name == column));
        Assert.True(field.IsAdjustedToUTC);
        var element = reader.Metadata!.Schema.Single(e => e.Name == column);
        Assert.Equal(Parquet.Meta.Type.INT64, element.Type);
        Assert.NotNull(element.LogicalType?.TIMESTAMP);
        Assert.True(element.LogicalType!.TIMESTAMP!.IsAdjustedToUTC);
        Assert.NotNull(element.LogicalType.TIMESTAMP.Unit.MICROS);
    }

    /// <summary>
    /// The store writes column by column (DatasetColumns), the readers map files back to the row classes: the file's schema
    /// must be exactly what Parquet.Net derives from those classes, or readers would see other columns or levels.
    /// </summary>
    [Theory]
    [InlineData(DatasetKinds.PreferencePairs, typeof(PreferencePairRow))]
    [InlineData(DatasetKinds.FeedbackLabels, typeof(FeedbackLabelRow))]
    [InlineData(DatasetKinds.Engagement, typeof(EngagementRow))]
    public async Task Written_files_have_exactly_the_row_classes_schema(string kind, Type rowClass)
    {
        var written = await SchemaOf(kind);

        Assert.Equal(rowClass.GetParquetSchema(forWriting: false), written);
        Assert.Equal(
            rowClass.GetParquetSchema(forWriting: false).GetDataFields().Select(f => (f.Path.ToString(), f.MaxDefinitionLevel, f.MaxRepetitionLevel, f.ClrType, f.IsNullable)),
            written.GetDataFields().Select(f => (f.Path.ToString(), f.MaxDefinitionLevel, f.MaxRepetitionLevel, f.ClrType, f.IsNullable)));
    }

    /// <summary>The list levels the store writes by hand: an empty prompt between one- and many-message prompts.</summary>
    [Fact]
    public async Task Empty_single_and_multi_message_prompts_read_back_in_their_rows()
    {
        var output = new ExtractionOutput();
        IReadOnlyList<ConversationTurn>[] prompts = [Samples.Prompt, [], [new ConversationTurn("user", "one")], [], Samples.Prompt];
        for (var i = 0; i < prompts.Length; i++)
        {
            output.Pairs.Add(Samples.Pair(Samples.Shop, $"g{i}", Samples.Start) with { Prompt = prompts[i] });
            output.Labels.Add(new FeedbackLabel($"label-{i}", Samples.Shop, prompts[i], new ConversationTurn("assistant", $"answer {i}"),
                i % 2 == 0, $"g{i}", "model-a", "session-1", "user-1", Samples.Start));
        }

        await new DatasetStore(_root).WriteAsync(output);

        var pairs = (await DatasetReader.ReadPairsAsync(_root, Samples.Shop)).ToDictionary(p => p.ChosenGenerationId);
        var labels = (await DatasetReader.ReadLabelsAsync(_root, Samples.Shop)).ToDictionary(l => l.LabelId);
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(prompts[i], pairs[$"g{i}"].Prompt);
            Assert.Equal(new ConversationTurn("assistant", "Paris."), pairs[$"g{i}"].Chosen);
            Assert.Equal(prompts[i], labels[$"label-{i}"].Prompt);
            Assert.Equal(new ConversationTurn("assistant", $"answer {i}"), labels[$"label-{i}"].Completion);
            Assert.Equal(i % 2 == 0, labels[$"label-{i}"].Label);
        }
    }

    private static void AssertMessageList(ParquetSchema schema, string name)
    {
        var list = Assert.IsType<ListField>(schema.Fields.Single(f => f.Name == name));
        var message = Assert.IsType<StructField>(list.Item);
        Assert.Equal(["role", "content"], message.Fields.Select(f => f.Name));
        Assert.All(message.Fields, AssertUtf8String);
    }

    /// <summary>A UTF-8 string column as Arrow/pandas read it (Parquet.Net may surface it as ReadOnlyMemory&lt;char&gt;).</summary>
    private static void AssertUtf8String(Field field)
    {
        var element = Assert.IsAssignableFrom<DataField>(field).SchemaElement;
        Assert.NotNull(element);
        Assert.Equal(Parquet.Meta.Type.BYTE_ARRAY, element.Type);
        Assert.True(element.LogicalType?.STRING is not null || element.ConvertedType == Parquet.Meta.ConvertedType.UTF8);
    }

    private static void AssertDataField<T>(ParquetSchema schema, string name) =>
        Assert.Equal(typeof(T), Assert.IsAssignableFrom<DataField>(schema.Fields.Single(f => f.Name == name)).ClrType);

    private async Task<ParquetSchema> SchemaOf(string kind) => await ParquetReader.ReadSchemaAsync(await WrittenFile(kind));

    private async Task<string> WrittenFile(string kind)
    {
        await new DatasetStore(_root).WriteAsync(Samples.Output());
        return Assert.Single(DatasetPaths.Files(DatasetPaths.Folder(_root, Samples.Shop, kind)));
    }
}
