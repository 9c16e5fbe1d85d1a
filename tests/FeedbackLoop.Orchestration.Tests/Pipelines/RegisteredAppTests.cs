using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>
/// Only an app the pipeline lists under <c>apps:</c> is registered (issue 10, finding 5): <c>defaults</c> is what a
/// listed app inherits, never a licence for any app id that shows up in events.
/// </summary>
public sealed class RegisteredAppTests
{
    private const string DefaultsOnly =
        """
        defaults:
          retrain: {min_new_pairs: 50}
        """;

    private const string TwoApps =
        """
        defaults:
          retrain: {min_new_pairs: 50}
        apps:
          chat: {}
          support-bot:
            retrain: {min_new_pairs: 10}
        """;

    /// <summary>pipeline text, app id, whether the app is registered.</summary>
    public static TheoryData<string, string, bool> Cases() => new()
    {
        { TwoApps, "chat", true },
        { TwoApps, "support-bot", true },
        { TwoApps, "evil", false },
        { TwoApps, "Chat", false },
        { TwoApps, "chat ", false },
        { TwoApps, "", false },
        { DefaultsOnly, "chat", false },
        { DefaultsOnly, "evil", false },
        { "apps: {}", "demo", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_app_is_registered_only_when_listed_under_apps(string yaml, string appId, bool registered)
    {
        var pipeline = PipelineLoader.LoadFromText(yaml, "p.yaml");

        Assert.Equal(registered, pipeline.IsRegistered(appId));
        Assert.Equal(registered, ((IRegisteredApps)pipeline).IsRegistered(appId));
    }

    [Fact]
    public void A_listed_app_inherits_the_defaults_and_an_unlisted_one_still_reads_them_without_being_registered()
    {
        var pipeline = PipelineLoader.LoadFromText(TwoApps, "p.yaml");

        Assert.Equal(50, pipeline.For("chat").Retrain.MinNewPairs);
        Assert.Equal(10, pipeline.For("support-bot").Retrain.MinNewPairs);
        // The extractor may still apply the defaults' rules to an unlisted app's events; registration is a separate question.
        Assert.Same(pipeline.Defaults, pipeline.For("evil"));
        Assert.False(pipeline.IsRegistered("evil"));
    }

    [Fact]
    public void The_shipped_files_register_only_the_apps_they_list()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "pipelines", "default.yaml");
        var pipeline = PipelineLoader.Load(file);

        Assert.True(pipeline.IsRegistered("demo"));
        Assert.False(pipeline.IsRegistered("evil"));
    }

    [Fact]
    public void How_to_register_names_the_file_and_the_apps_key_but_no_app_id()
    {
        var pipeline = PipelineLoader.LoadFromText(TwoApps, "/etc/feedbackloop/p.yaml");

        Assert.Contains("'apps:'", pipeline.HowToRegister, StringComparison.Ordinal);
        Assert.Contains("/etc/feedbackloop/p.yaml", pipeline.HowToRegister, StringComparison.Ordinal);
    }
}
