using FeedbackLoop.Core.Gating;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>The pipeline's <c>eval.recency</c>: off by default, layering, and each bad value refused at file:line:column.</summary>
public sealed class EvalRecencyPipelineTests
{
    [Fact]
    public void Without_the_setting_every_held_out_pair_is_scored()
    {
        var pipeline = PipelineLoader.LoadFromText("apps:\n  demo:\n    eval: {metric: pairwise_accuracy}\n", "p.yaml");

        Assert.Null(pipeline.For("demo").Eval.Recency);
        Assert.Null(AppPipeline.Builtin.Eval.Recency);
    }

    [Fact]
    public void A_window_alone_takes_the_default_minimum_and_an_app_can_change_either_or_turn_it_off()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
              eval:
                recency: {window: 30m}
            apps:
              demo:
              other:
                eval:
                  recency: {min_pairs: 250}
              third:
                eval:
                  recency: null
              fourth:
                eval:
                  recency: {window: 2h, min_pairs: 50}
            """, "p.yaml");

        Assert.Equal(new RecentEvalPairs(TimeSpan.FromMinutes(30), 100), pipeline.For("demo").Eval.Recency);
        Assert.Equal(new RecentEvalPairs(TimeSpan.FromMinutes(30), 250), pipeline.For("other").Eval.Recency);
        Assert.Null(pipeline.For("third").Eval.Recency);
        Assert.Equal(new RecentEvalPairs(TimeSpan.FromHours(2), 50), pipeline.For("fourth").Eval.Recency);
        // Settings compare by value, so two files that say the same thing are equal.
        Assert.NotEqual(pipeline.For("demo").Eval, pipeline.For("third").Eval);
    }

    [Theory]
    [InlineData("eval: {recency: {min_pairs: 50}}", "p.yaml:3:12: apps.demo.eval.recency: needs window: how far back from the newest held-out pair a pair is scored (e.g. 30m)")]
    [InlineData("eval: {recency: {window: 30m, min_pairs: 1}}", "p.yaml:3:35: apps.demo.eval.recency.min_pairs: must be between 2 and 1000000, got 1")]
    [InlineData("eval: {recency: {window: 0s}}", "p.yaml:3:22: apps.demo.eval.recency.window: must be more than 0 and at most 7 days, got 0s")]
    [InlineData("eval: {recency: {window: 30}}", "p.yaml:3:22: apps.demo.eval.recency.window: expected a duration such as 500ms, 90s, 5m or 1.5h, got 30")]
    [InlineData("eval: {recency: {window: 30m, half_life: 30m}}", "p.yaml:3:35: apps.demo.eval.recency.half_life: unknown field; valid fields here: window, min_pairs")]
    [InlineData("eval: {recency: 30m}", "p.yaml:3:12: apps.demo.eval.recency: expected a mapping with window (e.g. 30m) and min_pairs, or null to score every held-out pair; got 30m")]
    [InlineData("eval: {recent: {window: 30m}}", "p.yaml:3:12: apps.demo.eval.recent: unknown field; valid fields here: metric, command, extra_commands, timeout, pool, recency")]
    public void Bad_values_are_refused_with_the_place_field_and_reason(string section, string error)
    {
        var e = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText($"apps:\n  demo:\n    {section}\n", "p.yaml"));

        Assert.Equal(error, e.Message);
    }

    [Fact]
    public void A_command_evaluator_cannot_take_the_setting_because_it_chooses_its_own_pairs()
    {
        var e = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(
            """
            apps:
              gpu:
                trainer: {kind: command, command: "train {data} {output}"}
                eval:
                  command: "score {model} {eval} {output}"
                  recency: {window: 1h}
            """, "p.yaml"));

        Assert.StartsWith("p.yaml:2:3: apps.gpu: eval.recency is used only with the in-process evaluator (trainer kind mlnet-reward)", e.Message, StringComparison.Ordinal);
    }
}
