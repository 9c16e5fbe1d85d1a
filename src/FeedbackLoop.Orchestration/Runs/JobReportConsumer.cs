using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Telemetry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Runs;

/// <summary>
/// The workers' reports, recorded by the orchestrator alone: claims are arbitrated (the first claim of the current
/// attempt wins), heartbeats keep an attempt alive (one about an attempt that is no longer current stops its process),
/// and an attempt's end is recorded and moves its run on. Every handler is idempotent by (job, attempt, worker).
/// </summary>
internal sealed partial class JobReportConsumer(
    JobStore jobs, RunReconciler runs, ModelRegistry registry, OrchestrationTelemetry telemetry, TimeProvider clock, ILogger<JobReportConsumer> logger)
    : IConsumer<JobClaimed>, IConsumer<JobHeartbeat>, IConsumer<JobSucceeded>, IConsumer<JobFailed>
{
    public async Task Consume(ConsumeContext<JobClaimed> context)
    {
        var claim = context.Message;
        var outcome = jobs.Claim(claim);
        if (outcome.Verdict == ClaimVerdict.Refuse)
        {
            LogRefused(logger, claim.JobId, claim.Attempt, claim.WorkerId, outcome.Reason);
            await context.Publish(new JobClaimRefused(claim.JobId, claim.Attempt, claim.WorkerId, outcome.Reason)).ConfigureAwait(false);
            return;
        }

        LogGranted(logger, claim.JobId, claim.Attempt, claim.WorkerId, claim.Slot);
        if (outcome.Verdict == ClaimVerdict.Grant
            && jobs.Get(claim.JobId) is { } job
            && jobs.Attempts(claim.JobId).FirstOrDefault(a => a.Attempt == claim.Attempt) is { } attempt)
        {
            telemetry.AttemptGranted(job.Spec.Kind, clock.GetUtcNow() - attempt.OfferedAt);
        }

        await context.Publish(new JobAssigned(claim.JobId, claim.Attempt, claim.WorkerId)).ConfigureAwait(false);
    }

    public async Task Consume(ConsumeContext<JobHeartbeat> context)
    {
        var beat = context.Message;
        if (jobs.Heartbeat(beat) == ReportVerdict.Stale)
        {
            await context.Publish(new StopJob(beat.JobId, beat.Attempt, beat.WorkerId,
                FormattableString.Invariant($"attempt {beat.Attempt} is no longer the one the orchestrator runs"))).ConfigureAwait(false);
        }
    }

    public async Task Consume(ConsumeContext<JobSucceeded> context)
    {
        var report = context.Message;
        var end = jobs.Succeed(report);
        if (end.Recorded && end.RunId is not null)
        {
            LogSucceeded(logger, report.JobId, report.Attempt, report.WorkerId, report.Seconds);
            RecordAttempt(report.JobId, report.Attempt, report.WorkerId, "succeeded", report.Seconds);
            await runs.AdvanceAsync(end.RunId, context, context.CancellationToken).ConfigureAwait(false);
        }
    }

    public async Task Consume(ConsumeContext<JobFailed> context)
    {
        var report = context.Message;
        var end = jobs.Fail(report);
        if (end.Recorded && end.RunId is not null)
        {
            LogFailed(logger, report.JobId, report.Attempt, report.WorkerId, report.Outcome, report.Reason, end.JobState is { } state ? JobRules.Text(state) : "?");
            RecordAttempt(report.JobId, report.Attempt, report.WorkerId, report.Outcome, report.Seconds);
            await runs.AdvanceAsync(end.RunId, context, context.CancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Counts the attempt's end and adds its span to the run's trace, drawn after the fact from when it started to now:
    /// the worker's time on it (training for a tune job, scoring for an eval job) shows in the trace without the worker
    /// having to export spans of its own.
    /// </summary>
    private void RecordAttempt(string jobId, int attempt, string workerId, string outcome, double seconds)
    {
        if (jobs.Get(jobId) is not { } job)
        {
            return;
        }

        telemetry.AttemptEnded(job.Spec.Kind, outcome, seconds);
        var started = clock.GetUtcNow() - TimeSpan.FromSeconds(double.IsFinite(seconds) && seconds >= 0 ? seconds : 0);
        using var span = OrchestrationTelemetry.StartRunSpan("job." + job.Spec.Kind, registry.TraceParentOf(job.RunId), job.RunId, job.AppId, started);
        span?.SetTag("feedbackloop.job_id", jobId);
        span?.SetTag("feedbackloop.attempt", attempt);
        span?.SetTag("feedbackloop.worker_id", workerId);
        span?.SetTag("feedbackloop.outcome", outcome);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Attempt {Attempt} of job {JobId} granted to worker {WorkerId} (slot {Slot})")]
    private static partial void LogGranted(ILogger logger, string jobId, int attempt, string workerId, int slot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Claim of attempt {Attempt} of job {JobId} by worker {WorkerId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string jobId, int attempt, string workerId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Attempt {Attempt} of job {JobId} succeeded on worker {WorkerId} in {Seconds:0.0} s")]
    private static partial void LogSucceeded(ILogger logger, string jobId, int attempt, string workerId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attempt {Attempt} of job {JobId} on worker {WorkerId} ended {Outcome}: {Reason}; the job is now {State}")]
    private static partial void LogFailed(ILogger logger, string jobId, int attempt, string workerId, string outcome, string reason, string state);
}
