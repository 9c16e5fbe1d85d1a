namespace FeedbackLoop.Contracts.Bus;

/// <summary>The ids of a run's jobs: fixed by the run id, so a redelivered step finds the job it already made.</summary>
public static class JobIds
{
    /// <summary>The run's tuning job.</summary>
    public static string Tune(string runId) => runId + "-tune";

    /// <summary>The run's eval job.</summary>
    public static string Eval(string runId) => runId + "-eval";

    /// <summary>The folder attempt <paramref name="attempt"/> of a job writes: one per attempt, so a retry never sees a failed attempt's files.</summary>
    public static string OutputOf(JobSpec spec, int attempt) =>
        Path.Combine(spec.OutputRoot, FormattableString.Invariant($"{spec.Kind}-{attempt}"));
}
