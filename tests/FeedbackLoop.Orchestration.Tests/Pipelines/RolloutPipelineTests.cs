using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>The pipeline's <c>rollout</c> section: defaults, layering, and each bad value refused where it is.</summary>
public sealed class RolloutPipelineTests
{
    [Fact]
    public void Without_a_rollout_section_a_promotion_canaries_10_percent_for_at_most_24_hours()
    {
        var pipeline = PipelineLoader.LoadFromText("apps:\n  demo:\n", "p.yaml");

        Assert.Equal(new RolloutSettings(10, TimeSpan.FromHours(24)), pipeline.For("demo").Rollout);
    }

    [Fact]
    public void An_app_overrides_the_defaults_field_by_field()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
              rollout: {canary_percent: 20, max_duration: 2h}
            apps:
              demo:
                rollout: {canary_percent: 0}
              other:
            """, "p.yaml");

        Assert.Equal(new RolloutSettings(0, TimeSpan.FromHours(2)), pipeline.For("demo").Rollout);
        Assert.Equal(new RolloutSettings(20, TimeSpan.FromHours(2)), pipeline.For("other").Rollout);
    }

    [Theory]
    [InlineData("rollout: {canary_percent: 51}", "apps.demo.rollout.canary_percent: must be between 0 (no canary: a promotion serves everyone at once) and 50, got 51")]
    [InlineData("rollout: {canary_percent: -1}", "apps.demo.rollout.canary_percent: must be between 0")]
    [InlineData("rollout: {max_duration: 8d}", "apps.demo.rollout.max_duration: expected a duration")]
    [InlineData("rollout: {max_duration: 200h}", "apps.demo.rollout.max_duration: must be more than 0 and at most 7 days, got 200h")]
    [InlineData("rollout: {canary: 10}", "apps.demo.rollout.canary: unknown field; valid fields here: canary_percent, max_duration")]
    public void Bad_values_are_refused_with_the_field_and_reason(string section, string error)
    {
        var e = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText($"apps:\n  demo:\n    {section}\n", "p.yaml"));

        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }
}
