using System.Text.Json;
using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>Pipelines whose trainer is a command: the template, its values, the eval command and checks, the job settings.</summary>
public sealed class CommandPipelineTests
{
    private static readonly string GpuFile = Path.Combine(AppContext.BaseDirectory, "pipelines", "gpu.yaml");

    [Fact]
    public void Every_command_field_is_read()
    {
        var app = PipelineLoader.LoadFromText(
            """
            apps:
              chat:
                trainer:
                  kind: command
                  seed: 3
                  command: python3 {pipeline_dir}/train.py --data {train} --out '{output}' --params {params}
                  base_model: /models/llama 3b
                  params:
                    beta: 0.1
                    lora_r: 16
                    tokenizer: auto
                    quoted: "16"
                    flags: [true, null]
                  timeout: 90m
                eval:
                  command: [python3, score.py, --model, "{model}", --out, "{output}/metrics.json"]
                  extra_commands:
                    - check.sh {model}
                    - [check2, --candidate, "{candidate}", --vs, "{incumbent}"]
                  timeout: 500ms
                jobs:
                  max_attempts: 5
                  retry_backoff: 1.5s
                  heartbeat_timeout: 2h
            """, "p.yaml").For("chat");

        Assert.Equal(TrainerSettings.CommandKind, app.Trainer.Kind);
        Assert.Equal(3, app.Trainer.Seed);
        Assert.Equal(["python3", "{pipeline_dir}/train.py", "--data", "{train}", "--out", "{output}", "--params", "{params}"], app.Trainer.Command!.Arguments);
        Assert.Equal("/models/llama 3b", app.Trainer.BaseModel);
        Assert.Equal("""{"beta":0.1,"lora_r":16,"tokenizer":"auto","quoted":"16","flags":[true,null]}""", app.Trainer.ParamsJson);
        Assert.Equal(TimeSpan.FromMinutes(90), app.Trainer.Timeout);
        Assert.Equal(CommandTemplate.FromArguments(["python3", "score.py", "--model", "{model}", "--out", "{output}/metrics.json"]), app.Eval.Command);
        Assert.Equal([CommandTemplate.Parse("check.sh {model}"), CommandTemplate.FromArguments(["check2", "--candidate", "{candidate}", "--vs", "{incumbent}"])],
            app.Eval.ExtraCommands);
        Assert.Equal(TimeSpan.FromMilliseconds(500), app.Eval.Timeout);
        Assert.Equal(new JobSettings(5, TimeSpan.FromSeconds(1.5), TimeSpan.FromHours(2)), app.Jobs);
    }

    [Fact]
    public void A_kind_given_starts_from_that_kinds_defaults_and_an_app_can_switch_back_by_clearing_the_eval_command()
    {
        var pipeline = PipelineLoader.LoadFromText(
            """
            defaults:
              trainer:
                kind: command
                command: train {output}
              eval:
                command: score {model} {output}
            apps:
              cpu:
                trainer:
                  kind: mlnet-reward
                eval:
                  command: null
            """, "p.yaml");

        Assert.Equal(TrainerSettings.DefaultCommandTimeout, pipeline.Defaults.Trainer.Timeout);
        Assert.Equal(TrainerSettings.Builtin, pipeline.For("cpu").Trainer);
        Assert.Null(pipeline.For("cpu").Eval.Command);
        Assert.Equal(TrainerSettings.DefaultMlNetTimeout, pipeline.For("cpu").Trainer.Timeout);
    }

    [Fact]
    public void The_shipped_gpu_pipeline_loads_and_runs_the_reference_scripts_beside_it()
    {
        var pipeline = PipelineLoader.Load(GpuFile);
        var app = pipeline.For("demo");

        Assert.Equal(Path.GetDirectoryName(GpuFile), pipeline.Directory);
        Assert.Equal(TrainerSettings.CommandKind, app.Trainer.Kind);
        Assert.Equal(["python3", "{pipeline_dir}/trainers/dpo_lora.py"], app.Trainer.Command!.Arguments.Take(2));
        Assert.Equal(["python3", "{pipeline_dir}/trainers/eval_pairwise.py"], app.Eval.Command!.Arguments.Take(2));
        Assert.Contains("{output}/metrics.json", app.Eval.Command.Arguments);
        Assert.True(app.Gate.RequireSignoff);
        using var parameters = JsonDocument.Parse(app.Trainer.ParamsJson);
        Assert.Equal(0.1, parameters.RootElement.GetProperty("beta").GetDouble());
        Assert.StartsWith("config:{", app.Trainer.BaseModel, StringComparison.Ordinal);
        // The scripts the templates name are there, beside the pipelines file.
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "pipelines", "trainers", "dpo_lora.py")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "pipelines", "trainers", "eval_pairwise.py")));
    }

    [Fact]
    public void The_durations_of_the_cli_and_the_files_read_and_print_alike()
    {
        foreach (var (text, duration) in new[] { ("500ms", TimeSpan.FromMilliseconds(500)), ("90s", TimeSpan.FromSeconds(90)), ("5m", TimeSpan.FromMinutes(5)), ("2h", TimeSpan.FromHours(2)) })
        {
            Assert.True(Durations.TryParse(text, out var read));
            Assert.Equal(duration, read);
            Assert.Equal(text, Durations.Format(duration));
        }

        Assert.False(Durations.TryParse("5 m", out _));
        Assert.False(Durations.TryParse("-5m", out _));
        Assert.False(Durations.TryParse("5d", out _));
    }
}
