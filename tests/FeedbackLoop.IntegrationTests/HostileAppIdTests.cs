using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.Kafka;
using Json.Schema;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// App ids that would escape their folder or pass for another app (issue 11: app <c>..</c> wrote to
/// <c>&lt;data&gt;/feedback-labels/</c>). Every gate refuses the same table: the contract parser, the published JSON
/// Schemas, the SDK's options, the dataset writer, and the extractor end to end, which dead-letters them and writes
/// nothing outside <c>&lt;data&gt;/datasets/&lt;app&gt;/</c>.
/// </summary>
public sealed class HostileAppIdTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private const string Valid = "demo";

    public static TheoryData<string, string> HostileIds() => new()
    {
        { "dot", "." },
        { "dot-dot", ".." },
        { "hidden", ".hidden" },
        { "parent path", "../escaped" },
        { "65 characters", new string('a', 65) },
        { "slash", "a/b" },
        { "backslash", "a\\b" },
        { "Cyrillic a (U+0430)", "\u0430pp" },
        { "Cyrillic e in demo (U+0435)", "d\u0435mo" },
        { "fullwidth letters", "\uFF44\uFF45\uFF4D\uFF4F" },
        { "trailing space", "demo " },
        { "empty", "" },
        { "NUL", "de\0mo" },
        { "leading dash", "-rf" },
    };

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void The_contract_parser_refuses_it_naming_app_id(string name, string appId)
    {
        Assert.True(EventJson.TryParse(Encoding.UTF8.GetBytes(Event(Valid)), out _, out _), "the valid event parses");

        Assert.False(EventJson.TryParse(Encoding.UTF8.GetBytes(Event(appId)), out _, out var rejection), name);
        Assert.Equal("app_id", rejection.Field);
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void Every_published_event_schema_refuses_it(string name, string appId)
    {
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "schemas", "events"), "*.schema.json"))
        {
            var appIdSchema = JsonSchema.FromText(AppIdSchemaOf(file), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            // A whole schema accepts only an event of its own type, so each schema's app_id rule is checked on its own.
            using var valid = JsonDocument.Parse(JsonSerializer.Serialize(Valid));
            using var hostile = JsonDocument.Parse(JsonSerializer.Serialize(appId));
            Assert.True(appIdSchema.Evaluate(valid.RootElement, Options).IsValid, Path.GetFileName(file));
            Assert.False(appIdSchema.Evaluate(hostile.RootElement, Options).IsValid, $"{Path.GetFileName(file)}: {name}");
        }

        // And a whole event of one type, valid but for its app_id.
        var thumbSchema = JsonSchema.FromText(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", "events", EventTypes.FeedbackThumb + ".schema.json")),
            new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        using (var validEvent = JsonDocument.Parse(Event(Valid))) Assert.True(thumbSchema.Evaluate(validEvent.RootElement, Options).IsValid);
        using var hostileEvent = JsonDocument.Parse(Event(appId));
        Assert.False(thumbSchema.Evaluate(hostileEvent.RootElement, Options).IsValid, name);
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public async Task The_SDK_options_refuse_it_naming_AppId(string name, string appId)
    {
        await using var transport = new KafkaFeedbackTransport(fixture.Cluster.BootstrapServers);

        var refused = Assert.Throws<ArgumentException>(() => new FeedbackClient(new FeedbackClientOptions { AppId = appId }, transport));
        Assert.True(refused.ParamName == nameof(FeedbackClientOptions.AppId), name);
        // An empty id is reported as missing (the SDK's configuration check says what is absent before what is wrong).
        Assert.Contains(appId.Length == 0 ? "missing" : AppIds.Rule, refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public async Task The_dataset_writer_refuses_it_and_writes_nothing(string name, string appId)
    {
        using var folder = new TempFolder("hostile-app-writer");
        var data = Path.Combine(folder.Path, "data");
        var store = new DatasetStore(data);
        var output = new ExtractionOutput();
        output.Labels.Add(Label(appId));

        var refused = await Assert.ThrowsAsync<DatasetPathException>(() => store.WriteAsync(output));

        Assert.Contains(AppIds.Rule, refused.Message, StringComparison.Ordinal);
        // Refused before any folder was made, inside datasets/ or out of it.
        Assert.False(Directory.EnumerateFileSystemEntries(folder.Path, "*", SearchOption.AllDirectories).Any(), name);
    }

    /// <summary>app id → whether the dataset path check lets it through (the full-path guard, apart from the id rule).</summary>
    [Theory]
    [InlineData(Valid, DatasetKinds.PreferencePairs, true)]
    [InlineData("a..b", DatasetKinds.FeedbackLabels, true)]
    [InlineData(Valid, "../../outside", false)]
    [InlineData(Valid, "", false)]
    [InlineData("..", DatasetKinds.Engagement, false)]
    public void The_dataset_path_stays_inside_the_apps_folder(string appId, string kind, bool allowed)
    {
        var root = Path.Combine(Path.GetTempPath(), "feedbackloop-paths");
        if (!allowed)
        {
            Assert.Throws<DatasetPathException>(() => DatasetPaths.Folder(root, appId, kind));
            return;
        }
        var folder = Path.GetFullPath(DatasetPaths.Folder(root, appId, kind));
        Assert.Equal(Path.Combine(Path.GetFullPath(root), "datasets", appId, kind), folder);
    }

    [Fact]
    public void A_datasets_folder_that_is_not_a_valid_app_id_is_not_listed_as_an_app()
    {
        using var folder = new TempFolder("hostile-app-list");
        foreach (var name in new[] { Valid, ".hidden", "Demo", "demo ", "d\u0435mo" }) Directory.CreateDirectory(Path.Combine(folder.Path, "datasets", name));

        Assert.Equal([Valid], DatasetPaths.Apps(folder.Path));
    }

    [Fact]
    public async Task The_extractor_dead_letters_every_hostile_id_and_writes_only_inside_datasets_of_the_valid_app()
    {
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 1);
        var hostile = HostileIds().Select(row => (string)row[1]).ToList();
        harness.ProduceRaw(hostile.Select(id => ((string?)"s-1", (byte[]?)Encoding.UTF8.GetBytes(Event(id)))));
        harness.Produce(KnownSessions.All(Valid));

        var loop = await harness.ExtractAsync();

        var letters = harness.ReadDeadLetters();
        Assert.Equal(hostile.Count, letters.Count);
        Assert.All(letters, l => Assert.Equal("app_id", l.Headers[ExtractionLoop.FieldHeader]));
        Assert.Equal(hostile.Count, loop.Progress.DeadLettered);
        Assert.NotEmpty(await DatasetReader.ReadPairsAsync(harness.DataRoot, Valid));
        // The data folder holds the extractor's state and the valid app's datasets, nothing else.
        Assert.Equal(["datasets", "state"], Directory.EnumerateFileSystemEntries(harness.DataRoot).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        Assert.Equal([Valid], DatasetPaths.Apps(harness.DataRoot));
    }

    private static readonly EvaluationOptions Options = new() { OutputFormat = OutputFormat.Flag, RequireFormatValidation = true };

    /// <summary>The <c>app_id</c> property schema of one published event schema, as a schema of its own.</summary>
    private static string AppIdSchemaOf(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        return document.RootElement.GetProperty("properties").GetProperty("app_id").GetRawText();
    }

    /// <summary>A valid thumb event but for its app id (JSON-escaped as any sender would).</summary>
    private static string Event(string appId) =>
        "{\"event_id\":\"e-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(appId)).AsSpan(0, 8)) + "\",\"type\":\"feedback.thumb\",\"v\":1,\"app_id\":" + JsonSerializer.Serialize(appId)
        + ",\"session_id\":\"s-1\",\"user_id\":\"u-1\",\"occurred_at\":\"2026-03-01T09:00:00Z\",\"data\":{\"generation_id\":\"g-1\",\"value\":\"up\"}}";

    private static FeedbackLabel Label(string appId) => new(
        "label-1", appId, SessionScript.Prompt("Question?"), new ConversationTurn("assistant", "Answer."), true, "g-1", "m1", "s-1", "u-1", KnownSessions.Start);
}
