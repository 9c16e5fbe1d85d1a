using System.Globalization;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.Orchestration.Telemetry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Worker;

/// <summary>A worker's settings.</summary>
public sealed record WorkerOptions
{
    /// <summary>The worker's id in the store and in every message: unique among the running workers.</summary>
    public string WorkerId { get; init; } = string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}");

    /// <summary>GPUs the worker hands out, one job per GPU (slot i sees only GPU <see cref="GpuIds"/>[i]); 0 means one CPU slot that sees no GPU.</summary>
    public int Gpus { get; init; }

    /// <summary>
    /// The device ids the slots stand for, as <c>CUDA_VISIBLE_DEVICES</c> names them; by default 0 … Gpus−1. A worker
    /// started with <c>CUDA_VISIBLE_DEVICES=2,3</c> passes those, so its slots use GPUs 2 and 3.
    /// </summary>
    public IReadOnlyList<string>? GpuIds { get; init; }

    /// <summary>The device id of slot <paramref name="slot"/>; empty for the CPU slot (the job sees no GPU).</summary>
    public string DeviceOf(int slot) =>
        Gpus == 0 ? "" : GpuIds is { } ids && slot < ids.Count ? ids[slot] : slot.ToString(CultureInfo.InvariantCulture);

    /// <summary>The worker's private folder (mode 0700): attempt logs and the attempts' working folders.</summary>
    public string WorkDirectory { get; init; } = Path.Combine(Environment.CurrentDirectory, "feedbackloop-worker");

    /// <summary>How often a running attempt's heartbeat is sent; keep it well under the pipelines' heartbeat timeout.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A claim the orchestrator has not answered within this long frees its slot again.</summary>
    public TimeSpan ClaimTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>After a stop, how long the worker waits for the job to end before it frees the slot anyway.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The worker pool it takes jobs of (<see cref="JobPools"/>): it listens only to that pool's offer queue.</summary>
    public string Pool { get; init; } = JobPools.Default;

    /// <summary>
    /// On shutdown (SIGTERM), how long running attempts may go on to finish while the worker takes no new offer; an attempt
    /// still running then is stopped and reported interrupted, so it is offered again without counting against the job.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = DefaultDrainTimeout;

    /// <summary>Five minutes: most CPU jobs end within it, and a GPU job that would not is retried elsewhere, not lost.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a stop may take in all: the drain, the stopped jobs' grace, then six seconds for their reports to reach
    /// the broker. A host running the worker must allow at least this long for its shutdown.
    /// </summary>
    public TimeSpan StopLimit => DrainTimeout + StopGrace + TimeSpan.FromSeconds(6);

    /// <summary>The number of jobs the worker runs at once.</summary>
    public int Slots => Math.Max(1, Gpus);

    /// <summary>Which of the worker's environment variables its jobs' programs see (<c>serve --pass-env</c> adds names); nothing else is inherited.</summary>
    public ChildEnvironment ChildEnvironment { get; init; } = ChildEnvironment.Default;
}

/// <summary>
/// A worker: a competing consumer of job offers with one slot per GPU. It takes an offer only into a free slot and
/// answers it with a claim at once (so no delivery is held while a job runs); it pauses its intake while every slot is
/// busy, so an offer waits in the queue for a worker with room instead. It runs a job only once the orchestrator grants
/// the claim, beats while the job runs, stops it on request or at its time limit, and reports how it ended — retrying
/// that report until the broker takes it, because an unreported end would cost a heartbeat timeout and a retry.
/// </summary>
internal sealed partial class JobWorker(
    WorkerOptions options, JobExecutor executor, JobSigner signer, OrchestrationTelemetry telemetry, TimeProvider clock, ILogger<JobWorker> logger)
    : IAsyncDisposable
{
    /// <summary>How long RabbitMQ keeps a worker's own queue without a consumer (a worker that is gone) before deleting it.</summary>
    public static readonly TimeSpan ControlQueueExpiry = TimeSpan.FromMinutes(10);

    // An attempt's end is retried from 500 ms, doubling up to 30 s: a broker restart takes seconds to minutes.
    private static readonly Backoff ReportBackoff = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));

    private readonly Lock _lock = new();
    private readonly Slot[] _slots = Enumerable.Range(0, options.Slots).Select(i => new Slot(i)).ToArray();
    private readonly SemaphoreSlim _intakeGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _attempts = [];
    private IBus? _bus;
    private HostReceiveEndpointHandle? _offers;
    private HostReceiveEndpointHandle? _control;
    private bool _intakeOpen;
    private Task? _housekeeping;

    private enum SlotState
    {
        Free,
        Claimed,
        Running,
    }

    public string WorkerId => options.WorkerId;

    /// <summary>Completes once the worker listens for grants and takes offers.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Connects the worker's endpoints: its own (grants, refusals, stops), then the shared offer queue.</summary>
    public async Task StartAsync(IBus bus, CancellationToken cancellationToken)
    {
        _bus = bus;
        try
        {
            CreatePrivateFolder(options.WorkDirectory);

            // The worker's own endpoint first: a grant must never find nobody listening. A durable queue named after
            // the worker, not a temporary one: a temporary queue vanishes with a broker restart, and a grant published
            // before the worker has declared it again would be dropped. On RabbitMQ the queue of a worker that is gone
            // is deleted once it has had no consumer for a while, so dead workers leave nothing behind.
            _control = bus.ConnectReceiveEndpoint(ControlQueueOf(options.WorkerId), e =>
            {
                if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.QueueExpiration = ControlQueueExpiry;
                }

                e.Handler<JobAssigned>(context => OnAssignedAsync(context.Message));
                e.Handler<JobClaimRefused>(context => OnRefusedAsync(context.Message));
                e.Handler<StopJob>(context => OnStopAsync(context.Message));
            });
            await _control.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);

            // One offer at a time: the handler only claims, so this costs nothing, and it keeps a busy worker from
            // holding offers another worker could take. Only its own pool's queue: other pools' offers never reach it.
            _offers = bus.ConnectReceiveEndpoint(LoopQueues.JobsOf(options.Pool), e =>
            {
                e.PrefetchCount = 1;
                e.ConcurrentMessageLimit = 1;
                e.Handler<JobOffered>(OnOfferAsync);
            });
            await _offers.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
            _intakeOpen = true;
            _housekeeping = Task.Run(() => HousekeepingAsync(_stopping.Token), CancellationToken.None);
            LogStarted(logger, options.WorkerId, options.Pool, options.Slots, options.Gpus == 0 ? "CPU" : "GPU", ProcessRunner.ChildrenDieWithWorker);
            _ready.TrySetResult();
        }
        catch (Exception e)
        {
            _ready.TrySetException(e);
            throw;
        }
    }

    /// <summary>
    /// Drains: stops taking offers at once, lets the running attempts finish for up to <see cref="WorkerOptions.DrainTimeout"/>,
    /// then stops those still running and reports them interrupted (offered again elsewhere, not counted against the job),
    /// and waits for their reports until <paramref name="cancellationToken"/> gives up.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await ReconcileIntakeAsync().ConfigureAwait(false);
        var running = RunningAttempts();
        LogDraining(logger, options.DrainTimeout.TotalSeconds, running.Length);
        try
        {
            await Task.WhenAll(running).WaitAsync(options.DrainTimeout, clock, cancellationToken).ConfigureAwait(false);
            LogDrained(logger);
        }
        catch (TimeoutException)
        {
            List<CancellationTokenSource> stops;
            lock (_lock)
            {
                stops = _slots.Where(s => s.State == SlotState.Running)
                    .Select(s => s.MarkStop(JobOutcomes.Interrupted,
                        string.Create(CultureInfo.InvariantCulture, $"worker {options.WorkerId} shut down: its drain of {options.DrainTimeout.TotalSeconds:0.#} s ran out")))
                    .OfType<CancellationTokenSource>().ToList();
            }

            LogDrainExpired(logger, stops.Count);
            stops.ForEach(Slot.Cancel);
        }
        catch (OperationCanceledException)
        {
            // The host gave up waiting: what did not report is given up on by the orchestrator's heartbeat timeout.
            return;
        }

        try
        {
            await Task.WhenAll(RunningAttempts()).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (_housekeeping is not null)
            {
                await _housekeeping.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Out of time: what did not report is given up on by the orchestrator's heartbeat timeout.
        }
    }

    private Task[] RunningAttempts()
    {
        lock (_lock)
        {
            return [.. _attempts];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _intakeGate.Dispose();
        foreach (var slot in _slots)
        {
            slot.Dispose();
        }
    }

    private async Task OnOfferAsync(ConsumeContext<JobOffered> context)
    {
        var offer = context.Message;
        if (Refusal(offer) is { } refusal)
        {
            // Acknowledged and dropped: a forged or altered offer must not run anywhere, and the genuine offer of the
            // attempt (if there is one) is sent again by the orchestrator.
            telemetry.OfferRefused(refusal.Reason);
            LogOfferRefused(logger, Printable(offer.JobId), offer.Attempt, refusal.Detail);
            return;
        }

        Slot? slot;
        lock (_lock)
        {
            if (_slots.Any(s => s.Holds(offer.JobId, offer.Attempt)))
            {
                // A copy of an offer this worker already claimed (re-sent, or redelivered): one claim is enough.
                return;
            }

            slot = _stopping.IsCancellationRequested ? null : _slots.FirstOrDefault(s => s.State == SlotState.Free);
            slot?.Claim(offer, clock.GetUtcNow(), LogPathOf(offer));
        }

        if (slot is null)
        {
            // Every slot is busy and the intake is closing: put the offer back at the end of the queue for a worker
            // with room. The short pause keeps a closing worker from spinning on the same offer.
            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None).ConfigureAwait(false);
            var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress).ConfigureAwait(false);
            await queue.Send(offer, CancellationToken.None).ConfigureAwait(false);
            ScheduleIntakeReconcile();
            return;
        }

        LogClaiming(logger, offer.JobId, offer.Attempt, slot.Index);
        await context.Publish(new JobClaimed(offer.JobId, offer.Attempt, options.WorkerId, slot.Index, slot.LogPath!)).ConfigureAwait(false);
        ScheduleIntakeReconcile();
    }

    private async Task OnAssignedAsync(JobAssigned grant)
    {
        if (grant.WorkerId != options.WorkerId)
        {
            return;
        }

        Slot? slot;
        var draining = false;
        lock (_lock)
        {
            slot = _slots.FirstOrDefault(s => s.Holds(grant.JobId, grant.Attempt));
            if (slot?.State == SlotState.Claimed && _stopping.IsCancellationRequested)
            {
                // Granted after the drain began: a draining worker starts nothing new, and says so at once.
                slot.Free();
                draining = true;
            }
            else if (slot?.State == SlotState.Claimed)
            {
                slot.Start();
                _attempts.RemoveAll(t => t.IsCompleted);
                _attempts.Add(Task.Run(() => RunAttemptAsync(slot, grant), CancellationToken.None));
            }
        }

        if (draining)
        {
            await ReportAsync(new JobFailed(grant.JobId, grant.Attempt, options.WorkerId, JobOutcomes.Interrupted,
                $"worker {options.WorkerId} was draining when the grant arrived", null, 0)).ConfigureAwait(false);
            return;
        }

        if (slot is null)
        {
            // The claim expired here before the grant came, and the job's spec went with it. Saying so lets the
            // orchestrator retry at once instead of after a heartbeat timeout.
            LogLateGrant(logger, grant.JobId, grant.Attempt);
            await ReportAsync(new JobFailed(grant.JobId, grant.Attempt, options.WorkerId, JobOutcomes.Failed,
                $"worker {options.WorkerId} had given up its claim when the grant arrived", null, 0)).ConfigureAwait(false);
        }
    }

    private Task OnRefusedAsync(JobClaimRefused refusal)
    {
        if (refusal.WorkerId != options.WorkerId)
        {
            return Task.CompletedTask;
        }

        lock (_lock)
        {
            if (_slots.FirstOrDefault(s => s.Holds(refusal.JobId, refusal.Attempt) && s.State == SlotState.Claimed) is { } slot)
            {
                LogClaimRefused(logger, refusal.JobId, refusal.Attempt, refusal.Reason);
                slot.Free();
            }
        }

        ScheduleIntakeReconcile();
        return Task.CompletedTask;
    }

    private Task OnStopAsync(StopJob stop)
    {
        if (stop.WorkerId != options.WorkerId)
        {
            return Task.CompletedTask;
        }

        CancellationTokenSource? cancel = null;
        lock (_lock)
        {
            if (_slots.FirstOrDefault(s => s.Holds(stop.JobId, stop.Attempt) && s.State == SlotState.Running) is { } slot)
            {
                LogStopping(logger, stop.JobId, stop.Attempt, stop.Reason);
                cancel = slot.MarkStop(JobOutcomes.Cancelled, stop.Reason);
            }
        }

        // Cancelled outside the lock: cancellation runs the job's continuations (the kill) on this thread.
        if (cancel is not null)
        {
            Slot.Cancel(cancel);
        }

        return Task.CompletedTask;
    }

    private async Task RunAttemptAsync(Slot slot, JobAssigned grant)
    {
        var started = clock.GetUtcNow();
        var folder = Path.Combine(options.WorkDirectory, "jobs", grant.JobId, AttemptName(grant.Attempt));
        object report;
        using (var log = new AttemptLog(slot.LogPath!))
        {
            var offer = slot.Offer!;
            log.Note(string.Create(CultureInfo.InvariantCulture,
                $"worker {options.WorkerId} slot {slot.Index}: attempt {grant.Attempt} of {grant.JobId} ({offer.Spec.Kind}, {offer.Spec.Runner}), time limit {offer.Spec.TimeoutSeconds:0.#} s"));
            report = await RunWithLimitsAsync(slot, offer, folder, log, started).ConfigureAwait(false);
            log.Note(report switch
            {
                JobSucceeded => "succeeded",
                JobFailed failed => $"ended {failed.Outcome}: {failed.Reason}",
                _ => "ended",
            });
        }

        await ReportAsync(report).ConfigureAwait(false);
        lock (_lock)
        {
            slot.Free();
        }

        ScheduleIntakeReconcile();
    }

    private async Task<object> RunWithLimitsAsync(Slot slot, JobOffered offer, string folder, AttemptLog log, DateTimeOffset started)
    {
        using var timeLimit = new CancellationTokenSource(TimeSpan.FromSeconds(offer.Spec.TimeoutSeconds), clock);
        using var stopOrLimit = CancellationTokenSource.CreateLinkedTokenSource(slot.StopToken, timeLimit.Token);
        using var heartbeatsDone = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(offer, log, started, heartbeatsDone.Token);
        var seconds = () => (clock.GetUtcNow() - started).TotalSeconds;
        try
        {
            var run = executor.RunAsync(offer, slot.Index, folder, log, stopOrLimit.Token);
            try
            {
                var result = await run.WaitAsync(stopOrLimit.Token).ConfigureAwait(false);
                return result switch
                {
                    AttemptSucceeded success => new JobSucceeded(offer.JobId, offer.Attempt, options.WorkerId, success.OutputDirectory, success.MetricsJson, seconds()),
                    AttemptFailed failure => new JobFailed(offer.JobId, offer.Attempt, options.WorkerId, JobOutcomes.Failed, failure.Reason, failure.ExitCode, seconds()),
                    _ => throw new InvalidOperationException("unknown attempt result"),
                };
            }
            catch (OperationCanceledException) when (stopOrLimit.IsCancellationRequested)
            {
                // A command is killed by the runner itself; give it a moment to go, so the GPU is free before the slot is.
                // The in-process trainer cannot be interrupted: its result is dropped when it comes.
                _ = run.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                await Task.WhenAny(run, Task.Delay(options.StopGrace, CancellationToken.None)).ConfigureAwait(false);
                var (outcome, reason) = slot.StopToken.IsCancellationRequested
                    ? slot.StopRequest
                    : (JobOutcomes.TimedOut, string.Create(CultureInfo.InvariantCulture, $"stopped at its time limit of {offer.Spec.TimeoutSeconds:0.#} s"));
                return new JobFailed(offer.JobId, offer.Attempt, options.WorkerId, outcome, reason, null, seconds());
            }
        }
#pragma warning disable CA1031 // Whatever goes wrong in a job is that attempt's failure, reported with its reason; the worker carries on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            log.Note($"runner error: {e}");
            return new JobFailed(offer.JobId, offer.Attempt, options.WorkerId, JobOutcomes.Failed, $"{e.GetType().Name}: {e.Message}", null, seconds());
        }
        finally
        {
            await heartbeatsDone.CancelAsync().ConfigureAwait(false);
            await heartbeats.ConfigureAwait(false);
        }
    }

    private async Task HeartbeatAsync(JobOffered offer, AttemptLog log, DateTimeOffset started, CancellationToken done)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(done).ConfigureAwait(false))
            {
                try
                {
                    await _bus!.Publish(new JobHeartbeat(offer.JobId, offer.Attempt, options.WorkerId, (clock.GetUtcNow() - started).TotalSeconds, log.Progress), done)
                        .ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A missed beat is not fatal: the orchestrator waits several intervals before it gives up.
                    LogHeartbeatFailed(logger, offer.JobId, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The attempt ended.
        }
    }

    /// <summary>Sends an attempt's end, trying again (with a growing pause) until the broker takes it or the worker is stopped for good.</summary>
    private async Task ReportAsync(object report)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _bus!.Publish(report, report.GetType(), CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (attempt < 60)
            {
                LogReportFailed(logger, report.GetType().Name, attempt, e.Message);
                await Task.Delay(ReportBackoff.Delay(attempt - 1), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Every so often: claims still unanswered are sent again (an answer lost in a broker restart is given again; the
    /// orchestrator's answer to a duplicate claim is the same answer), and claims unanswered for the whole claim timeout
    /// free their slots.
    /// </summary>
    private async Task HousekeepingAsync(CancellationToken stopping)
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, Math.Min(TimeSpan.FromSeconds(1).Ticks, options.ClaimTimeout.Ticks / 4)));
        var claimAgainAfter = TimeSpan.FromTicks(Math.Clamp(options.ClaimTimeout.Ticks / 6, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(10).Ticks));
        using var timer = new PeriodicTimer(period, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                var freed = false;
                var again = new List<JobClaimed>();
                lock (_lock)
                {
                    var now = clock.GetUtcNow();
                    foreach (var slot in _slots.Where(s => s.State == SlotState.Claimed))
                    {
                        if (now - slot.ClaimedAt > options.ClaimTimeout)
                        {
                            LogClaimExpired(logger, slot.Offer!.JobId, slot.Offer.Attempt);
                            slot.Free();
                            freed = true;
                        }
                        else if (now - slot.ClaimSentAt > claimAgainAfter)
                        {
                            slot.ClaimSentAt = now;
                            again.Add(new JobClaimed(slot.Offer!.JobId, slot.Offer.Attempt, options.WorkerId, slot.Index, slot.LogPath!));
                        }
                    }
                }

                foreach (var claim in again)
                {
                    try
                    {
                        await _bus!.Publish(claim, stopping).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // The next round tries again; the claim timeout bounds how long.
                        LogHeartbeatFailed(logger, claim.JobId, e.Message);
                    }
                }

                if (freed)
                {
                    ScheduleIntakeReconcile();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void ScheduleIntakeReconcile() => _ = Task.Run(ReconcileIntakeAsync, CancellationToken.None);

    /// <summary>Opens the offer intake when a slot is free and the worker runs, closes it otherwise.</summary>
    private async Task ReconcileIntakeAsync()
    {
        await _intakeGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            bool wanted;
            lock (_lock)
            {
                wanted = !_stopping.IsCancellationRequested && _slots.Any(s => s.State == SlotState.Free);
            }

            if (_offers is null || wanted == _intakeOpen)
            {
                return;
            }

            if (wanted)
            {
                await _offers.ReceiveEndpoint.Start(CancellationToken.None).Ready.ConfigureAwait(false);
            }
            else
            {
                await _offers.ReceiveEndpoint.Stop(CancellationToken.None).ConfigureAwait(false);
            }

            _intakeOpen = wanted;
            LogIntake(logger, wanted ? "open" : "closed");
        }
#pragma warning disable CA1031 // A failed pause or resume is retried at the next slot change; the bounce in OnOfferAsync covers the meantime.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogIntakeFailed(logger, e.Message);
        }
        finally
        {
            _intakeGate.Release();
        }
    }

    /// <summary>
    /// Why this worker will not run <paramref name="offer"/> (a fixed reason word for the metric, and a sentence without
    /// secrets for the log), or null. The signature first: nothing else in an offer is worth reading until it holds.
    /// </summary>
    private (string Reason, string Detail)? Refusal(JobOffered offer)
    {
        if (offer.Signature is null)
        {
            return ("unsigned", "the offer carries no signature (is FEEDBACKLOOP_JOB_KEY set on the orchestrator?)");
        }

        if (!signer.Verify(offer))
        {
            return ("bad_signature", "its signature does not match its content under this worker's key (forged, altered, or signed with another key)");
        }

        if (JobSpecCheck.Problem(offer) is { } problem)
        {
            return ("bad_spec", problem);
        }

        return offer.Spec.Pool == options.Pool ? null : ("wrong_pool", $"it is a job of pool {offer.Spec.Pool}; this worker is in pool {options.Pool}");
    }

    /// <summary>A job id from an unchecked message, cut to safe characters and length before it reaches a log.</summary>
    private static string Printable(string? text) =>
        text is null ? "(none)" : new string(text.Take(80).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '?').ToArray());

    /// <summary>The worker's own queue: its id, reduced to the characters every broker accepts in a queue name.</summary>
    public static string ControlQueueOf(string workerId) =>
        "feedbackloop-worker-" + new string(workerId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray());

    private string LogPathOf(JobOffered offer) =>
        Path.Combine(options.WorkDirectory, "logs", offer.JobId, AttemptName(offer.Attempt) + ".log");

    private static string AttemptName(int attempt) => string.Create(CultureInfo.InvariantCulture, $"attempt-{attempt}");

    private static void CreatePrivateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // CreateDirectory leaves an existing folder's mode alone; the logs may hold data users wrote, so tighten it.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>One GPU (or the CPU slot) and what it holds. Changed only under the worker's lock.</summary>
    private sealed class Slot(int index) : IDisposable
    {
        private CancellationTokenSource? _stop;

        public int Index { get; } = index;
        public SlotState State { get; private set; }
        public JobOffered? Offer { get; private set; }
        public string? JobId { get; private set; }
        public int Attempt { get; private set; }
        public string? LogPath { get; private set; }
        public DateTimeOffset ClaimedAt { get; private set; }
        public DateTimeOffset ClaimSentAt { get; set; }
        public (string Outcome, string Reason) StopRequest { get; private set; }
        public CancellationToken StopToken => _stop?.Token ?? CancellationToken.None;

        public bool Holds(string jobId, int attempt) => State != SlotState.Free && JobId == jobId && Attempt == attempt;

        public void Claim(JobOffered? offer, DateTimeOffset at, string? logPath)
        {
            State = SlotState.Claimed;
            Offer = offer;
            JobId = offer?.JobId;
            Attempt = offer?.Attempt ?? 0;
            LogPath = logPath;
            ClaimedAt = at;
            ClaimSentAt = at;
        }

        public void Start()
        {
            State = SlotState.Running;
            _stop = new CancellationTokenSource();
        }

        /// <summary>Records why the attempt stops (the first reason wins) and returns the source to cancel, outside the worker's lock.</summary>
        public CancellationTokenSource? MarkStop(string outcome, string reason)
        {
            if (_stop is null || _stop.IsCancellationRequested || StopRequest != default)
            {
                return null;
            }

            StopRequest = (outcome, reason);
            return _stop;
        }

        public static void Cancel(CancellationTokenSource stop)
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The attempt ended and freed its slot meanwhile: nothing left to stop.
            }
        }

        public void Free()
        {
            State = SlotState.Free;
            Offer = null;
            JobId = null;
            Attempt = 0;
            LogPath = null;
            StopRequest = default;
            _stop?.Dispose();
            _stop = null;
        }

        public void Dispose() => _stop?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} takes jobs of pool {Pool}: {Slots} {Kind} slot(s); children die with the worker: {Guarded}")]
    private static partial void LogStarted(ILogger logger, string workerId, string pool, int slots, string kind, bool guarded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused an offer of job {JobId} attempt {Attempt}, nothing runs: {Reason}")]
    private static partial void LogOfferRefused(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: no new offers; waiting up to {Seconds} s for {Running} running attempt(s)")]
    private static partial void LogDraining(ILogger logger, double seconds, int running);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain time is up: stopping {Running} attempt(s), reported interrupted so they are offered again")]
    private static partial void LogDrainExpired(ILogger logger, int running);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained: every attempt ended")]
    private static partial void LogDrained(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Claiming attempt {Attempt} of job {JobId} for slot {Slot}")]
    private static partial void LogClaiming(ILogger logger, string jobId, int attempt, int slot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Claim of attempt {Attempt} of job {JobId} refused: {Reason}")]
    private static partial void LogClaimRefused(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Claim of attempt {Attempt} of job {JobId} got no answer in time; its slot is free again")]
    private static partial void LogClaimExpired(ILogger logger, string jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant of attempt {Attempt} of job {JobId} came after its claim expired; reported as failed")]
    private static partial void LogLateGrant(ILogger logger, string jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping attempt {Attempt} of job {JobId}: {Reason}")]
    private static partial void LogStopping(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat or claim of job {JobId} not sent: {Error}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string jobId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report {Report} not sent (try {Attempt}): {Error}")]
    private static partial void LogReportFailed(ILogger logger, string report, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Offer intake {State}")]
    private static partial void LogIntake(ILogger logger, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offer intake could not be paused or resumed: {Error}")]
    private static partial void LogIntakeFailed(ILogger logger, string error);
}
