using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

public sealed class PipelineLoaderTests
{
    private static readonly string DefaultFile = Path.Combine(AppContext.BaseDirectory, "pipelines", "default.yaml");

    [Fact]
    public void The_shipped_default_file_loads()
    {
        var pipeline = PipelineLoader.Load(DefaultFile);

        Assert.Equal(DefaultFile, pipeline.SourceName);
        Assert.Equal(AppPipeline.Builtin, pipeline.Defaults);
        Assert.Equal(["demo"], pipeline.Apps.Keys);
        Assert.Equal(AppPipeline.Builtin, pipeline.For("demo"));
    }

    [Fact]
    public void An_app_not_listed_gets_the_defaults()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
              retrain:
                min_new_pairs: 50
            apps:
              chat: {}
            """, "p.yaml");

        Assert.Equal(50, pipeline.For("support").Retrain.MinNewPairs);
        Assert.Same(pipeline.Defaults, pipeline.For("support"));
    }

    [Fact]
    public void A_listed_app_overrides_only_the_fields_it_names()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            apps:
              chat:
                rules:
                  edit:
                    weight: 2.5
                gate:
                  require_signoff: true
            defaults:
              rules:
                edit:
                  enabled: false
                thumbs:
                  weight: 0.5
              gate:
                margin: 0.05
            """, "p.yaml");

        var chat = pipeline.For("chat");
        Assert.Equal(new SignalRule(Enabled: false, Weight: 2.5), chat.Rules.Edit);
        Assert.Equal(new SignalRule(Enabled: true, Weight: 0.5), chat.Rules.Thumbs);
        Assert.Equal(new GateSettings(Margin: 0.05, RequireSignoff: true), chat.Gate);
        Assert.Equal(SplitSettings.Builtin, chat.Split);
    }

    [Fact]
    public void Empty_sections_keep_every_default()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
            apps:
              chat:
                rules:
                split:
            """, "p.yaml");

        Assert.Equal(AppPipeline.Builtin, pipeline.For("chat"));
    }

    [Fact]
    public void Every_field_is_read()
    {
        var app = PipelineLoader.LoadFromText(
            """
            apps:
              chat:
                rules:
                  comparison: {enabled: false, weight: 0}
                  edit: {enabled: true, weight: 1.5}
                  regenerate: {enabled: false, weight: 3}
                  thumbs: {enabled: true, weight: 0.25}
                  labels: {enabled: false}
                retrain: {min_new_pairs: 1}
                split: {eval_fraction: 0.35}
                trainer: {kind: mlnet-reward, seed: -7}
                eval: {metric: pairwise_accuracy}
                gate: {margin: 1, require_signoff: true}
            """, "p.yaml").For("chat");

        Assert.Equal(
            new AppPipeline(
                new PairRules(new SignalRule(false, 0), new SignalRule(true, 1.5), new SignalRule(false, 3), new SignalRule(true, 0.25), LabelsEnabled: false),
                new RetrainSettings(1),
                new SplitSettings(0.35),
                new TrainerSettings(TrainerSettings.MlNetReward, -7),
                new EvalSettings(EvalSettings.PairwiseAccuracy),
                new GateSettings(1, RequireSignoff: true)),
            app);
    }

    [Fact]
    public void Rules_map_onto_the_extraction_settings_and_keep_the_hosts_other_knobs()
    {
        var app = PipelineLoader.LoadFromText(
            """
            apps:
              chat:
                rules:
                  regenerate: {enabled: false}
                  thumbs: {weight: 0.5}
                  labels: {enabled: false}
            """, "p.yaml").For("chat");
        var host = new ExtractionSettings { SessionTimeout = TimeSpan.FromMinutes(5) };

        var settings = app.ToExtractionSettings(host);

        Assert.Equal(
            new[] { PairSignals.Comparison, PairSignals.Edit, PairSignals.Thumbs }.Order(),
            settings.EnabledSignals.Order());
        Assert.Equal(0.5, settings.WeightOf(PairSignals.Thumbs));
        Assert.Equal(1.0, settings.WeightOf(PairSignals.Comparison));
        Assert.False(settings.LabelsEnabled);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.SessionTimeout);
    }

    [Fact]
    public void The_builtin_pipeline_extracts_like_the_extractors_own_defaults()
    {
        var settings = AppPipeline.Builtin.ToExtractionSettings();
        var extractorDefaults = new ExtractionSettings();

        Assert.Equal(extractorDefaults.EnabledSignals.Order(), settings.EnabledSignals.Order());
        Assert.All(settings.EnabledSignals, s => Assert.Equal(extractorDefaults.WeightOf(s), settings.WeightOf(s)));
        Assert.Equal(extractorDefaults.LabelsEnabled, settings.LabelsEnabled);
    }

    [Fact]
    public void A_missing_file_is_reported_as_missing()
    {
        Assert.Throws<FileNotFoundException>(() => PipelineLoader.Load(Path.Combine(AppContext.BaseDirectory, "pipelines", "absent.yaml")));
    }
}
