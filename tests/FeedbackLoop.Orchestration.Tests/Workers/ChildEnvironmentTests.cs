using System.Collections;
using FeedbackLoop.Orchestration.Worker;

namespace FeedbackLoop.Orchestration.Tests.Workers;

/// <summary>Which of the worker's variables a job's programs get: the allowlist, the operator's additions, never the loop's own.</summary>
public sealed class ChildEnvironmentTests
{
    [Theory]
    [InlineData("PATH", true)]
    [InlineData("HOME", true)]
    [InlineData("LANG", true)]
    [InlineData("LC_ALL", true)]
    [InlineData("TMPDIR", true)]
    [InlineData("CUDA_HOME", true)]
    [InlineData("NVIDIA_VISIBLE_DEVICES", true)]
    [InlineData("NCCL_DEBUG", true)]
    [InlineData("HF_HOME", true)]
    [InlineData("HF_HUB_OFFLINE", true)]
    [InlineData("LD_LIBRARY_PATH", true)]
    [InlineData("FEEDBACKLOOP_RABBITMQ_PASSWORD", false)]
    [InlineData("FEEDBACKLOOP_RABBITMQ", false)]
    [InlineData("FEEDBACKLOOP_STORE", false)]
    [InlineData("FeedbackLoop__Otlp__Headers", false)]
    [InlineData("HF_TOKEN", false)]
    [InlineData("AWS_SECRET_ACCESS_KEY", false)]
    [InlineData("ConnectionStrings__Store", false)]
    [InlineData("DATABASE_URL", false)]
    [InlineData("path", false)]
    [InlineData("PATHEXT", false)]
    public void By_default_only_the_allowlist_crosses(string name, bool passes)
    {
        Assert.Equal(passes, ChildEnvironment.Default.Passes(name));
    }

    [Theory]
    [InlineData("HF_TOKEN", "HF_TOKEN", true)]
    [InlineData("WANDB_*", "WANDB_API_KEY", true)]
    [InlineData("WANDB_*", "WANDB", false)]
    [InlineData("MY_TRAINER_MODE", "MY_TRAINER_MODE", true)]
    [InlineData("MY_TRAINER_MODE", "MY_TRAINER_MODE_2", false)]
    public void An_operator_adds_names_or_prefixes(string added, string name, bool passes)
    {
        Assert.Equal(passes, new ChildEnvironment([added]).Passes(name));
        Assert.False(ChildEnvironment.Default.Passes(name));
    }

    [Theory]
    [InlineData("FEEDBACKLOOP_RABBITMQ_PASSWORD", "loop's own")]
    [InlineData("FEEDBACKLOOP_*", "loop's own")]
    [InlineData("feedbackloop_store", "loop's own")]
    [InlineData("FeedbackLoop__Otlp__Headers", "loop's own")]
    [InlineData("FEED*", "loop's own")]
    [InlineData("F*", "loop's own")]
    [InlineData("*", "would pass everything")]
    [InlineData("", "empty")]
    [InlineData("A B", "not a variable name")]
    [InlineData("A=B", "not a variable name")]
    [InlineData("9LIVES", "not a variable name")]
    [InlineData("HF_*_X", "not a variable name")]
    public void A_name_that_would_reach_the_loops_secrets_or_is_no_name_is_refused_at_configuration(string name, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => new ChildEnvironment([name]));

        Assert.StartsWith("--pass-env: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_keeps_the_passing_variables_with_their_values_and_drops_the_rest()
    {
        var worker = new Hashtable
        {
            ["PATH"] = "/usr/bin:/bin",
            ["CUDA_HOME"] = "/usr/local/cuda",
            ["HF_TOKEN"] = "hf_secret",
            ["FEEDBACKLOOP_RABBITMQ_PASSWORD"] = "bus-secret",
            ["FEEDBACKLOOP_RABBITMQ"] = "amqp://loop:bus-secret@mq/",
            ["ConnectionStrings__Store"] = "Data Source=/secret.db",
        };

        Assert.Equal(
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["CUDA_HOME"] = "/usr/local/cuda" },
            ChildEnvironment.Default.From(worker));
        Assert.Equal(
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["CUDA_HOME"] = "/usr/local/cuda", ["HF_TOKEN"] = "hf_secret" },
            new ChildEnvironment(["HF_TOKEN"]).From(worker));
    }
}
