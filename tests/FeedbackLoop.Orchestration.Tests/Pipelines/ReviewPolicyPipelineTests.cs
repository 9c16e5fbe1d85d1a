using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>The pipeline's <c>review:</c> section: what it reads into, how it layers, and the files it refuses (with file:line:column).</summary>
public sealed class ReviewPolicyPipelineTests
{
    private const string File = "pipelines/review.yaml";

    [Fact]
    public void Review_is_off_unless_a_file_turns_it_on()
    {
        Assert.Equal(new ReviewPolicy(false, 0.1), AppPipeline.Builtin.Review);
        Assert.Equal(ReviewPolicy.Builtin, PipelineLoader.LoadFromText("apps:\n  demo: {}\n", File).For("demo").Review);
    }

    public static TheoryData<string, string, bool, double> Valid() => new()
    {
        { "the issue's flow mapping", "apps:\n  demo:\n    review: {required: true, min_reviewed_fraction: 0.1}\n", true, 0.1 },
        { "required alone keeps the default share", "apps:\n  demo:\n    review:\n      required: true\n", true, 0.1 },
        { "a share of 1: every new pair", "apps:\n  demo:\n    review: {required: true, min_reviewed_fraction: 1}\n", true, 1.0 },
        { "from defaults", "defaults:\n  review: {required: true, min_reviewed_fraction: 0.25}\napps:\n  demo: {}\n", true, 0.25 },
        {
            "an app turns off what defaults turned on, keeping the share",
            "defaults:\n  review: {required: true, min_reviewed_fraction: 0.25}\napps:\n  demo:\n    review: {required: false}\n", false, 0.25
        },
        { "an empty section keeps the basis", "apps:\n  demo:\n    review:\n", false, 0.1 },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void A_review_section_reads_into_the_policy(string name, string yaml, bool required, double fraction)
    {
        var review = PipelineLoader.LoadFromText(yaml, File).For("demo").Review;

        Assert.True(required == review.Required, name);
        Assert.Equal(fraction, review.MinReviewedFraction);
    }

    public static TheoryData<string, string, string> Invalid() => new()
    {
        { "a share of 0", "apps:\n  demo:\n    review: {required: true, min_reviewed_fraction: 0}\n", "3:30: apps.demo.review.min_reviewed_fraction: must be above 0 and at most 1, got 0" },
        { "a share above 1", "apps:\n  demo:\n    review:\n      min_reviewed_fraction: 10\n", "4:7: apps.demo.review.min_reviewed_fraction: must be above 0 and at most 1, got 10" },
        { "a percent written as text", "apps:\n  demo:\n    review:\n      min_reviewed_fraction: 10%\n", "4:7: apps.demo.review.min_reviewed_fraction: expected a number, got 10%" },
        { "yes is not a boolean", "apps:\n  demo:\n    review: {required: yes}\n", "3:14: apps.demo.review.required: expected true or false, got yes" },
        { "a misspelt key", "apps:\n  demo:\n    review: {requried: true}\n", "3:14: apps.demo.review.requried: unknown field; valid fields here: required, min_reviewed_fraction" },
        { "a scalar instead of a mapping", "apps:\n  demo:\n    review: true\n", "3:5: apps.demo.review: expected a mapping, got true" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void A_bad_review_section_fails_with_its_location_field_and_reason(string name, string yaml, string error)
    {
        var failure = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(yaml, File));

        Assert.True(failure.Message == $"{File}:{error}", $"{name}: {failure.Message}");
    }
}
