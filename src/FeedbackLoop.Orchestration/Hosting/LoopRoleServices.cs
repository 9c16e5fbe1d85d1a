using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Trigger;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Worker;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Hosting;

/// <summary>
/// Tells the roles' hosted services when the bus is up, and stops them before the bus stops. The roles need a
/// running bus (the worker connects its endpoints to it, the supervisor sends on it), but hosted services start in
/// registration order and MassTransit's test harness starts them all at once, so they wait for this signal instead of
/// relying on an order. Stopping from <see cref="PreStop"/> keeps the order right whoever stops the bus first: the
/// worker still reports its running jobs as failed while the bus can carry the reports.
/// </summary>
internal sealed class LoopBusSignal(IServiceProvider services) : IBusObserver
{
    private readonly TaskCompletionSource<IBus> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the bus once it is started and ready.</summary>
    public Task<IBus> Started => _started.Task;

    public void PostCreate(IBus bus)
    {
    }

    public void CreateFaulted(Exception exception)
    {
    }

    public Task PreStart(IBus bus) => Task.CompletedTask;

    public Task PostStart(IBus bus, Task<BusReady> busReady)
    {
        _ = busReady.ContinueWith(
            ready => _ = ready.IsCompletedSuccessfully ? _started.TrySetResult(bus) : false,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public async Task PreStop(IBus bus)
    {
        if (services.GetService<LoopWorkerService>() is { } worker)
        {
            await worker.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (services.GetService<LoopSupervisorService>() is { } supervisor)
        {
            await supervisor.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public Task PostStop(IBus bus) => Task.CompletedTask;

    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;
}

/// <summary>
/// The orchestrator's supervisor loop as a hosted service: once the bus is up it sweeps every
/// <see cref="OrchestratorOptions.SweepInterval"/> (due offers, silent workers, cancel requests), then advances every
/// running run, counts the review of runs waiting for it, and announces what people did to models since (the store is their outbox). It holds no state, so stopping it anywhere loses nothing: a restarted orchestrator resumes from the store.
/// </summary>
internal sealed class LoopSupervisorService(
    LoopBusSignal bus, JobSupervisor supervisor, RunReconciler runs, RetrainStarter starter, ModelActionAnnouncer announcer) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var started = await bus.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
            await supervisor.RunAsync(started, AfterSweepAsync, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before or while sweeping: nothing to hand over.
        }
    }

    private async Task AfterSweepAsync(IBus started, CancellationToken cancellationToken)
    {
        await runs.AdvanceRunningAsync(started, cancellationToken).ConfigureAwait(false);
        await starter.RecheckWaitsAsync(started, cancellationToken).ConfigureAwait(false);
        await announcer.AnnounceAsync(started, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The worker as a hosted service: it connects its endpoints once the bus is up, and on stop it drains — takes no new
/// offer, lets the running jobs finish for up to <see cref="WorkerOptions.DrainTimeout"/>, then stops the rest and reports
/// them interrupted so the orchestrator offers them again at once (bounded by <see cref="WorkerOptions.StopLimit"/>; what does not
/// report by then is given up on by the orchestrator's heartbeat timeout).
/// </summary>
internal sealed partial class LoopWorkerService(LoopBusSignal bus, JobWorker worker, WorkerOptions options, ILogger<LoopWorkerService> logger)
    : IHostedService, IDisposable
{

    private readonly CancellationTokenSource _abortStart = new();
    private readonly Lock _lock = new();
    private Task _starting = Task.CompletedTask;
    private Task? _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _starting = Task.Run(async () =>
        {
            try
            {
                var started = await bus.Started.WaitAsync(_abortStart.Token).ConfigureAwait(false);
                await worker.StartAsync(started, _abortStart.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abortStart.IsCancellationRequested)
            {
                // Stopped before the bus was up.
            }
#pragma warning disable CA1031 // Reported through the worker's Ready task and the log; the bus keeps running for the orchestrator.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogWorkerFailed(logger, e);
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops the worker once, whoever asks first (the host, or the bus about to stop).</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _stopping ??= StopOnceAsync();
        }

        return _stopping.WaitAsync(cancellationToken);
    }

    public void Dispose() => _abortStart.Dispose();

    private async Task StopOnceAsync()
    {
        if (!bus.Started.IsCompleted)
        {
            // The bus never came up: nothing runs, and waiting for the start would wait forever.
            await _abortStart.CancelAsync().ConfigureAwait(false);
        }

        await _starting.ConfigureAwait(false);
        using var limit = new CancellationTokenSource(options.StopLimit);
        await worker.StopAsync(limit.Token).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The worker could not start")]
    private static partial void LogWorkerFailed(ILogger logger, Exception exception);
}
