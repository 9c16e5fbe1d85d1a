using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Orchestration.Hosting;

/// <summary>What one process does in the loop.</summary>
[Flags]
public enum LoopRoles
{
    /// <summary>Triggers runs, owns the durable store, offers jobs, arbitrates claims, watches heartbeats, gates and promotes.</summary>
    Orchestrator = 1,

    /// <summary>Takes job offers as a competing consumer and runs them, one per slot.</summary>
    Worker = 2,

    /// <summary>Both in one process (the embedded mode).</summary>
    All = Orchestrator | Worker,
}

/// <summary>The parts of a loop process: its roles and what each role needs.</summary>
public sealed record LoopHost
{
    /// <summary>The roles this process plays.</summary>
    public LoopRoles Roles { get; init; } = LoopRoles.All;

    /// <summary>Orchestrator: the registry (its file also holds the jobs).</summary>
    public ModelRegistry? Registry { get; init; }

    /// <summary>Orchestrator: the pipelines.</summary>
    public PipelineDefinition? Pipeline { get; init; }

    /// <summary>Orchestrator: where model artifacts go.</summary>
    public LoopPaths? Paths { get; init; }

    /// <summary>Orchestrator: where snapshots of the datasets are taken.</summary>
    public ISnapshotSource? Snapshots { get; init; }

    /// <summary>Orchestrator: how jobs are watched.</summary>
    public OrchestratorOptions Orchestrator { get; init; } = new();

    /// <summary>Worker: its id, slots, folder and heartbeat.</summary>
    public WorkerOptions Worker { get; init; } = new();

    /// <summary>Worker: the in-process ML.NET trainer; without it the worker runs command jobs only.</summary>
    public InProcessTrainers? Trainers { get; init; }

    /// <summary>The clock of the store, the supervisor and the heartbeats.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>
/// Starts the roles' background work with the bus and stops it before the bus stops: the worker (its endpoints connect
/// once the bus is up) and the orchestrator's supervisor loop. So whoever starts the bus starts the whole loop.
/// </summary>
internal sealed partial class LoopLifecycle(IServiceProvider services, LoopHost host, ILogger<LoopLifecycle> logger) : IBusObserver, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _supervisor = Task.CompletedTask;
    private Task _worker = Task.CompletedTask;

    public void PostCreate(IBus bus)
    {
    }

    public void CreateFaulted(Exception exception)
    {
    }

    public Task PreStart(IBus bus) => Task.CompletedTask;

    public Task PostStart(IBus bus, Task<BusReady> busReady)
    {
        if (host.Roles.HasFlag(LoopRoles.Orchestrator))
        {
            var supervisor = services.GetRequiredService<JobSupervisor>();
            var runs = services.GetRequiredService<RunReconciler>();
            _supervisor = Task.Run(async () =>
            {
                await busReady.ConfigureAwait(false);
                await supervisor.RunAsync(bus, runs.AdvanceRunningAsync, _stopping.Token).ConfigureAwait(false);
            }, CancellationToken.None);
        }

        if (host.Roles.HasFlag(LoopRoles.Worker))
        {
            var worker = services.GetRequiredService<JobWorker>();
            _worker = Task.Run(async () =>
            {
                try
                {
                    await busReady.ConfigureAwait(false);
                    await worker.StartAsync(bus, _stopping.Token).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Reported through the worker's Ready task and the log; the bus keeps running for the orchestrator.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogWorkerFailed(logger, e);
                }
            }, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public async Task PreStop(IBus bus)
    {
        if (host.Roles.HasFlag(LoopRoles.Worker))
        {
            await _worker.ConfigureAwait(false);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await services.GetRequiredService<JobWorker>().StopAsync(limit.Token).ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _supervisor.ConfigureAwait(false);
    }

    public Task PostStop(IBus bus) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Error, Message = "The worker could not start")]
    private static partial void LogWorkerFailed(ILogger logger, Exception exception);
}
