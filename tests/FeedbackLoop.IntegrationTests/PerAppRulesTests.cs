using System.Text;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Rules per app (issue 11, item 5) through the real path: a pipelines file, <c>feedbackloop extract --pipeline</c> as a
/// process on the embedded cluster, and the Parquet it wrote. Each listed app gets its own rules and weights; an app the
/// file does not list gets <c>defaults</c>. A file the loop cannot use fails at start, naming <c>file:line:col</c>.
/// </summary>
public sealed class PerAppRulesTests
{
    private const string AppA = "app-a";
    private const string AppB = "app-b";
    private const string Unlisted = "app-c";

    // app-a: thumbs and labels off. app-b: thumbs weigh 3.5. Everyone else (app-c): the defaults, thumbs weigh 2.
    private const string Pipeline = $"""
        defaults:
          rules:
            thumbs: {"{"}weight: 2{"}"}
        apps:
          {AppA}:
            rules:
              thumbs: {"{"}enabled: false{"}"}
              labels: {"{"}enabled: false{"}"}
          {AppB}:
            rules:
              thumbs: {"{"}weight: 3.5{"}"}

        """;

    private const int SessionsPerApp = 3;

    [Fact]
    public async Task Extract_with_a_pipeline_applies_each_apps_rules_and_weights_and_the_defaults_to_unlisted_apps()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(brokers: 1, eventPartitions: 2);
        using var folder = new TempFolder("per-app-rules");
        var pipelineFile = Path.Combine(folder.Path, "pipeline.yaml");
        await File.WriteAllTextAsync(pipelineFile, Pipeline);
        var data = Path.Combine(folder.Path, "data");
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var evt in new[] { AppA, AppB, Unlisted }.SelectMany(Sessions))
            {
                producer.Produce(KafkaTopics.Events, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(evt.SessionId), Value = EventJson.SerializeToUtf8Bytes(evt) });
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        using var extract = CliProcess.Start("extract", "--bootstrap", cluster.BootstrapServers, "--data", data, "--pipeline", pipelineFile, "--until-idle", "2");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");

        // Every app's sessions fire a comparison (on everywhere, weight 1) and a thumbs contrast, and thumb two generations.
        Assert.Equal(
            [(PairSignals.Comparison, 1.0, SessionsPerApp)],
            await PairsAsync(data, AppA));
        Assert.Equal(
            [(PairSignals.Comparison, 1.0, SessionsPerApp), (PairSignals.Thumbs, 3.5, SessionsPerApp)],
            await PairsAsync(data, AppB));
        Assert.Equal(
            [(PairSignals.Comparison, 1.0, SessionsPerApp), (PairSignals.Thumbs, 2.0, SessionsPerApp)],
            await PairsAsync(data, Unlisted));
        Assert.Empty(await DatasetReader.ReadLabelsAsync(data, AppA));
        Assert.Equal(3 * SessionsPerApp, (await DatasetReader.ReadLabelsAsync(data, AppB)).Count);
        Assert.Equal(3 * SessionsPerApp, (await DatasetReader.ReadLabelsAsync(data, Unlisted)).Count);
    }

    /// <summary>A pipelines file → the line and column its error must name (1-based), and words of the reason.</summary>
    public static TheoryData<string, string, string> BadFiles() => new()
    {
        // A misspelt rule: unknown keys fail instead of being ignored.
        { $"apps:\n  {AppA}:\n    rules:\n      thumbz: {{enabled: false}}\n", "4:7:", "unknown field" },
        // A misspelt option of a rule.
        { $"apps:\n  {AppA}:\n    rules:\n      thumbs: {{wieght: 2}}\n", "4:16:", "unknown field" },
        // A weight that is not a number.
        { $"defaults:\n  rules:\n    edit: {{weight: heavy}}\n", "3:12:", "defaults.rules.edit.weight: expected a number" },
        // An app id that is not a safe folder name.
        { "apps:\n  ../evil:\n", "2:3:", "app id" },
        // Not YAML at all.
        { "apps: [unclosed\n", "2:1:", "(yaml)" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task Extract_with_a_bad_pipeline_file_fails_at_start_naming_file_line_and_column(string yaml, string lineColumn, string reason)
    {
        using var folder = new TempFolder("per-app-rules-bad");
        var pipelineFile = Path.Combine(folder.Path, "pipeline.yaml");
        await File.WriteAllTextAsync(pipelineFile, yaml);

        // No broker: the file is read before anything connects, so a bad one fails at once.
        using var extract = CliProcess.Start("extract", "--bootstrap", "127.0.0.1:9", "--data", Path.Combine(folder.Path, "data"), "--pipeline", pipelineFile, "--until-idle", "1");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exit == 2, $"exit {exit}:\n{extract.Output}");
        var error = Assert.Single(extract.ErrorLines, line => line.StartsWith(pipelineFile + ":", StringComparison.Ordinal));
        Assert.True(error.StartsWith(pipelineFile + ":" + lineColumn, StringComparison.Ordinal), error);
        Assert.True(error.Contains(reason, StringComparison.Ordinal), error);
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "data", "datasets")), "nothing was extracted");
    }

    [Fact]
    public async Task Extract_with_an_unknown_option_fails_at_start_and_names_it()
    {
        using var extract = CliProcess.Start("extract", "--bootstrap", "127.0.0.1:9", "--pipline", "pipeline.yaml");
        var exit = await extract.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exit != 0, $"exit {exit}:\n{extract.Output}");
        Assert.Contains("--pipline", extract.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Per session: a side-by-side choice (one comparison pair), a thumbs-up and a thumbs-down on two answers to the same
    /// question (one thumbs pair), and a thumb on the chosen answer: three labels.
    /// </summary>
    private static IEnumerable<FeedbackEvent> Sessions(string appId)
    {
        for (var i = 0; i < SessionsPerApp; i++)
        {
            var set = $"set{i}";
            foreach (var evt in new SessionScript(appId, $"{appId}-s{i}", $"u{i}", KnownSessions.Start.AddMinutes(i))
                .Shown($"{appId}-c{i}-a", $"Pick {i}", "Blue", set).Shown($"{appId}-c{i}-b", $"Pick {i}", "Green", set)
                .Add(new ComparisonChosen(set, $"{appId}-c{i}-a")).Add(new ThumbGiven($"{appId}-c{i}-a", ThumbValue.Up))
                .Shown($"{appId}-t{i}-up", $"Question {i}?", "A good answer.").Shown($"{appId}-t{i}-down", $"Question {i}?", "A poor answer.")
                .Add(new ThumbGiven($"{appId}-t{i}-up", ThumbValue.Up)).Add(new ThumbGiven($"{appId}-t{i}-down", ThumbValue.Down))
                .End().Events)
            {
                yield return evt;
            }
        }
    }

    /// <summary>(signal, weight, count) of an app's pairs, in signal order.</summary>
    private static async Task<List<(string Signal, double Weight, int Count)>> PairsAsync(string data, string appId) =>
        (await DatasetReader.ReadPairsAsync(data, appId))
            .GroupBy(p => (p.Signal, p.Weight))
            .Select(g => (g.Key.Signal, g.Key.Weight, g.Count()))
            .OrderBy(g => g.Signal, StringComparer.Ordinal)
            .ToList();
}
