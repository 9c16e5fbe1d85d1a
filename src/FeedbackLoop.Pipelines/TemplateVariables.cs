namespace FeedbackLoop.Pipelines;

/// <summary>
/// The placeholders a pipeline's commands may use (pipelines/README.md lists what each holds). The pipeline loader
/// refuses a command that uses any other, so a typo fails at start-up instead of in a job hours later.
/// </summary>
public static class TemplateVariables
{
    /// <summary>The app id.</summary>
    public const string App = "app";

    /// <summary>The run id.</summary>
    public const string RunId = "run_id";

    /// <summary>The job id.</summary>
    public const string JobId = "job_id";

    /// <summary>The attempt number (1-based).</summary>
    public const string Attempt = "attempt";

    /// <summary>The candidate's version.</summary>
    public const string Version = "version";

    /// <summary>The trainer seed.</summary>
    public const string Seed = "seed";

    /// <summary>The held-out share; the split is by pair_id hash, made by whoever reads the data.</summary>
    public const string EvalFraction = "eval_fraction";

    /// <summary>The pipeline's <c>trainer.base_model</c>.</summary>
    public const string BaseModel = "base_model";

    /// <summary>The pipeline's <c>trainer.params</c> as one JSON object.</summary>
    public const string Params = "params";

    /// <summary>The folder of the pipelines file (to name scripts beside it).</summary>
    public const string PipelineDir = "pipeline_dir";

    /// <summary>A folder holding exactly the run's snapshot files.</summary>
    public const string Data = "data";

    /// <summary>The same folder as <see cref="Data"/>: the trainer keeps the pairs the split puts on the train side.</summary>
    public const string Train = "train";

    /// <summary>The same folder as <see cref="Data"/>: the evaluator keeps the pairs the split puts on the eval side.</summary>
    public const string Eval = "eval";

    /// <summary>The folder the command writes, with its <c>metrics.json</c>.</summary>
    public const string Output = "output";

    /// <summary>Eval and extra commands: the model folder being scored (the candidate, then the incumbent).</summary>
    public const string Model = "model";

    /// <summary>Eval and extra commands: the candidate's model folder.</summary>
    public const string Candidate = "candidate";

    /// <summary>Eval and extra commands: the incumbent's model folder, or an empty string when the app has none.</summary>
    public const string Incumbent = "incumbent";

    /// <summary>Placeholders of the trainer command.</summary>
    public static IReadOnlyList<string> ForTrainer { get; } =
        [App, RunId, JobId, Attempt, Version, Seed, EvalFraction, BaseModel, Params, PipelineDir, Data, Train, Eval, Output];

    /// <summary>Placeholders of the eval command and of the extra checks.</summary>
    public static IReadOnlyList<string> ForEval { get; } = [.. ForTrainer, Model, Candidate, Incumbent];
}
