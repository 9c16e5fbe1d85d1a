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
    public void Each_listed_apps_rules_map_onto_its_own_rule_set_and_unlisted_apps_get_the_defaults()
    {
        var book = PipelineLoader.LoadFromText(
            """
            defaults:
              rules:
                edit: {weight: 3}
            apps:
              chat:
                rules:
                  regenerate: {enabled: false}
                  thumbs: {weight: 0.5}
                  labels: {enabled: false}
              search: {}
            """, "p.yaml").ToRuleBook();

        var chat = book.For("chat");
        Assert.Equal(new[] { PairSignals.Comparison, PairSignals.Edit, PairSignals.Thumbs }.Order(), chat.EnabledSignals.Order());
        Assert.Equal(0.5, chat.WeightOf(PairSignals.Thumbs));
        Assert.Equal(3.0, chat.WeightOf(PairSignals.Edit));
        Assert.Equal(1.0, chat.WeightOf(PairSignals.Comparison));
        Assert.False(chat.LabelsEnabled);
        // A listed app with an empty section inherits defaults; an unlisted app gets them too.
        foreach (var other in new[] { book.For("search"), book.For("not-listed") })
        {
            Assert.Equal(AppRules.Builtin.EnabledSignals.Order(), other.EnabledSignals.Order());
            Assert.Equal(3.0, other.WeightOf(PairSignals.Edit));
            Assert.Equal(1.0, other.WeightOf(PairSignals.Thumbs));
            Assert.True(other.LabelsEnabled);
        }
    }

    [Fact]
    public void The_builtin_pipeline_extracts_like_the_extractors_own_defaults()
    {
        var rules = AppPipeline.Builtin.ToAppRules();
        var extractorDefaults = new ExtractionSettings().Rules.For("any-app");

        Assert.Equal(extractorDefaults.EnabledSignals.Order(), rules.EnabledSignals.Order());
        Assert.All(rules.EnabledSignals, s => Assert.Equal(extractorDefaults.WeightOf(s), rules.WeightOf(s)));
        Assert.Equal(extractorDefaults.LabelsEnabled, rules.LabelsEnabled);
    }

    [Fact]
    public void A_missing_file_is_reported_as_missing()
    {
        Assert.Throws<FileNotFoundException>(() => PipelineLoader.Load(Path.Combine(AppContext.BaseDirectory, "pipelines", "absent.yaml")));
    }
}
