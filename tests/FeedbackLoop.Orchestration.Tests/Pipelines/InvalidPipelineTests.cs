using FeedbackLoop.Pipelines;

namespace FeedbackLoop.Orchestration.Tests.Pipelines;

/// <summary>Bad files as a table: each must fail with <c>file:line:column: field: reason</c>, pointing at the offending key.</summary>
public sealed class InvalidPipelineTests
{
    private const string File = "pipelines/bad.yaml";

    private static readonly Dictionary<string, (string Yaml, string Error)> Cases = new()
    {
        ["eval fraction above 1"] = (
            """
            apps:
              demo:
                split:
                  eval_fraction: 1.5
            """,
            "4:7: apps.demo.split.eval_fraction: must be between 0 and 1 (exclusive), got 1.5"),
        ["eval fraction of 0 leaves nothing to evaluate"] = (
            """
            defaults:
              split: {eval_fraction: 0}
            """,
            "2:11: defaults.split.eval_fraction: must be between 0 and 1 (exclusive), got 0"),
        ["negative weight"] = (
            """
            defaults:
              rules:
                edit:
                  enabled: true
                  weight: -0.5
            """,
            "5:7: defaults.rules.edit.weight: must be at least 0, got -0.5"),
        ["weight that is not a number"] = (
            """
            defaults:
              rules:
                thumbs: {weight: .nan}
            """,
            "3:14: defaults.rules.thumbs.weight: expected a number, got .nan"),
        ["quoted number"] = (
            """
            defaults:
              rules:
                thumbs: {weight: "1.0"}
            """,
            "3:14: defaults.rules.thumbs.weight: expected a number, got the string \"1.0\""),
        ["yes is not a boolean"] = (
            """
            apps:
              demo:
                rules:
                  labels:
                    enabled: yes
            """,
            "5:9: apps.demo.rules.labels.enabled: expected true or false, got yes"),
        ["quoted boolean"] = (
            """
            apps:
              demo:
                gate:
                  require_signoff: "true"
            """,
            "4:7: apps.demo.gate.require_signoff: expected true or false, got the string \"true\""),
        ["boolean left empty"] = (
            """
            apps:
              demo:
                rules:
                  edit:
                    enabled:
            """,
            "5:9: apps.demo.rules.edit.enabled: expected true or false, got nothing"),
        ["zero new pairs"] = (
            """
            apps:
              demo:
                retrain:
                  min_new_pairs: 0
            """,
            "4:7: apps.demo.retrain.min_new_pairs: must be at least 1, got 0"),
        ["fractional pair count"] = (
            """
            apps:
              demo:
                retrain:
                  min_new_pairs: 2.5
            """,
            "4:7: apps.demo.retrain.min_new_pairs: expected a whole number, got 2.5"),
        ["seed beyond 32 bits"] = (
            """
            defaults:
              trainer:
                seed: 99999999999
            """,
            "3:5: defaults.trainer.seed: must be between -2147483648 and 2147483647, got 99999999999"),
        ["negative margin"] = (
            """
            defaults:
              gate:
                margin: -0.01
            """,
            "3:5: defaults.gate.margin: must be between 0 and 1, got -0.01"),
        ["margin above 1"] = (
            """
            defaults:
              gate:
                margin: 1.5
            """,
            "3:5: defaults.gate.margin: must be between 0 and 1, got 1.5"),
        ["misspelt field"] = (
            """
            apps:
              demo:
                split:
                  evl_fraction: 0.2
            """,
            "4:7: apps.demo.split.evl_fraction: unknown field; valid fields here: eval_fraction"),
        ["unknown section"] = (
            """
            apps:
              demo:
                filters:
                  min_length: 3
            """,
            "3:5: apps.demo.filters: unknown field; valid fields here: rules, retrain, split, trainer, eval, jobs, gate, rollout, review"),
        ["unknown top-level key"] = (
            """
            app:
              demo: {}
            """,
            "1:1: app: unknown field; valid fields here: apps, defaults"),
        ["unknown signal"] = (
            """
            defaults:
              rules:
                copy: {enabled: true}
            """,
            "3:5: defaults.rules.copy: unknown field; valid fields here: comparison, edit, regenerate, thumbs, labels"),
        ["labels have no weight"] = (
            """
            defaults:
              rules:
                labels: {enabled: true, weight: 2}
            """,
            "3:29: defaults.rules.labels.weight: unknown field; valid fields here: enabled"),
        ["unknown trainer kind"] = (
            """
            apps:
              demo:
                trainer:
                  seed: 1
                  kind: torch
            """,
            "5:7: apps.demo.trainer.kind: unknown trainer kind \"torch\"; valid kinds: mlnet-reward, command"),
        ["field of another trainer kind"] = (
            """
            apps:
              demo:
                trainer:
                  kind: mlnet-reward
                  command: python train.py
            """,
            "5:7: apps.demo.trainer.command: unknown field; valid fields here: kind, seed, timeout, pool"),
        ["command trainer without its command"] = (
            """
            defaults:
              trainer:
                kind: command
                base_model: /models/base
            """,
            "2:3: defaults.trainer: trainer.kind is command, so trainer.command is needed: the program and arguments that train into {output}"),
        ["command trainer without an eval command"] = (
            """
            apps:
              demo:
                trainer:
                  kind: command
                  command: train --out {output}
            """,
            "2:3: apps.demo: trainer.kind is command, so eval.command is needed: the command that scores {model} and writes {output}/metrics.json"),
        ["eval command with the in-process trainer"] = (
            """
            apps:
              demo:
                eval:
                  command: score {model}
            """,
            "2:3: apps.demo: eval.command is used only with trainer kind command; trainer.kind is mlnet-reward, which scores inside the worker (set eval.command: null to clear an inherited one)"),
        ["unknown placeholder"] = (
            """
            defaults:
              trainer:
                kind: command
                command: train --data {dataset} --out {output}
            """,
            "4:5: defaults.trainer.command: unknown placeholder {dataset}; valid here: {app} {run_id} {job_id} {attempt} {version} {seed} {eval_fraction} {base_model} {params} {pipeline_dir} {data} {train} {eval} {output}"),
        ["the model placeholder in a trainer command"] = (
            """
            defaults:
              trainer:
                kind: command
                command: [train, "{model}"]
            """,
            "4:5: defaults.trainer.command: unknown placeholder {model}; valid here: {app} {run_id} {job_id} {attempt} {version} {seed} {eval_fraction} {base_model} {params} {pipeline_dir} {data} {train} {eval} {output}"),
        ["unclosed quote in a command"] = (
            """
            defaults:
              trainer:
                kind: command
                command: train --name 'run one
            """,
            "4:5: defaults.trainer.command: the single quote at character 14 is never closed"),
        ["lone brace in a command"] = (
            """
            defaults:
              trainer:
                kind: command
                command: 'train --params {"beta": 1}'
            """,
            "4:5: defaults.trainer.command: '{' at character 1 of argument \"{beta:\" does not start a {placeholder} (lowercase letters and '_'); write {{ for a literal brace"),
        ["empty command"] = (
            """
            defaults:
              trainer:
                kind: command
                command: "  "
            """,
            "4:5: defaults.trainer.command: the command names no program"),
        ["extra check of the wrong type"] = (
            """
            defaults:
              eval:
                extra_commands: check.sh
            """,
            "3:5: defaults.eval.extra_commands: expected a list of commands, got check.sh"),
        ["extra check with an unknown placeholder"] = (
            """
            defaults:
              eval:
                extra_commands:
                  - check.sh {model}
                  - check.sh {modle}
            """,
            "5:9: defaults.eval.extra_commands[1]: unknown placeholder {modle}; valid here: {app} {run_id} {job_id} {attempt} {version} {seed} {eval_fraction} {base_model} {params} {pipeline_dir} {data} {train} {eval} {output} {model} {candidate} {incumbent}"),
        ["params that are not a mapping"] = (
            """
            defaults:
              trainer:
                kind: command
                command: train {output}
                params: beta=0.1
            """,
            "5:5: defaults.trainer.params: expected a mapping of trainer parameters, got beta=0.1"),
        ["duration without a unit"] = (
            """
            defaults:
              trainer: {timeout: 90}
            """,
            "2:13: defaults.trainer.timeout: expected a duration such as 500ms, 90s, 5m or 1.5h, got 90"),
        ["duration of zero"] = (
            """
            defaults:
              jobs: {heartbeat_timeout: 0s}
            """,
            "2:10: defaults.jobs.heartbeat_timeout: must be more than 0 and at most 7 days, got 0s"),
        ["duration beyond a week"] = (
            """
            defaults:
              eval: {timeout: 200h}
            """,
            "2:10: defaults.eval.timeout: must be more than 0 and at most 7 days, got 200h"),
        ["no attempt at all"] = (
            """
            defaults:
              jobs: {max_attempts: 0}
            """,
            "2:10: defaults.jobs.max_attempts: must be between 1 and 100, got 0"),
        ["unknown jobs field"] = (
            """
            defaults:
              jobs: {retries: 3}
            """,
            "2:10: defaults.jobs.retries: unknown field; valid fields here: max_attempts, retry_backoff, heartbeat_timeout"),
        ["unknown metric"] = (
            """
            defaults:
              eval:
                metric: accuracy
            """,
            "3:5: defaults.eval.metric: unknown metric \"accuracy\"; valid metrics: pairwise_accuracy"),
        ["section given as a number"] = (
            """
            apps:
              demo:
                split: 0.2
            """,
            "3:5: apps.demo.split: expected a mapping, got 0.2"),
        ["apps given as a list"] = (
            """
            apps:
              - demo
            """,
            "1:1: apps: expected a mapping, got a list"),
        ["app id with capitals"] = (
            """
            apps:
              Demo: {}
            """,
            "2:3: apps.Demo: an app id is 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (as in events' app_id), got \"Demo\""),
        ["app id that is a dot segment"] = (
            """
            apps:
              "..": {}
            """,
            "2:3: apps...: an app id is 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (as in events' app_id), got \"..\""),
        ["app id that reads as an option"] = (
            """
            apps:
              -rf: {}
            """,
            "2:3: apps.-rf: an app id is 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (as in events' app_id), got \"-rf\""),
        ["star instead of defaults"] = (
            """
            apps:
              "*": {}
            """,
            "2:3: apps.*: '*' is not an app id; list each app that may train under 'apps' (settings they share go under the top-level 'defaults')"),
        ["a key given twice"] = (
            """
            defaults:
              gate:
                margin: 0.1
                margin: 0.2
            """,
            "4:5: (yaml): the key 'margin' appears twice in the same mapping"),
        ["empty file"] = (
            "",
            "1:1: (root): the file is empty; expected a mapping with 'apps' and/or 'defaults'"),
        ["a list at the root"] = (
            """
            - demo
            """,
            "1:1: (root): expected a mapping with 'apps' and/or 'defaults', got a list"),
        ["two documents"] = (
            """
            apps: {}
            ---
            defaults: {}
            """,
            "3:1: (root): expected one YAML document, found another one here"),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void A_bad_file_fails_with_its_location_field_and_reason(string name)
    {
        var (yaml, error) = Cases[name];

        var failure = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(yaml, File));

        Assert.Equal($"{File}:{error}", failure.Message);
    }

    [Fact]
    public void A_yaml_syntax_error_names_its_position()
    {
        var failure = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(
            """
            apps:
              demo: {split: [}
            """, File));

        Assert.StartsWith($"{File}:2:", failure.Message, StringComparison.Ordinal);
        Assert.Equal("(yaml)", failure.Field);
        Assert.DoesNotContain("(Line:", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_exception_carries_each_part_separately()
    {
        var failure = Assert.Throws<PipelineException>(() => PipelineLoader.LoadFromText(
            """
            apps:
              demo:
                split:
                  eval_fraction: 1.5
            """, File));

        Assert.Equal((File, 4L, 7L, "apps.demo.split.eval_fraction"), (failure.SourceName, failure.Line, failure.Column, failure.Field));
        Assert.Equal("must be between 0 and 1 (exclusive), got 1.5", failure.Reason);
    }
}
