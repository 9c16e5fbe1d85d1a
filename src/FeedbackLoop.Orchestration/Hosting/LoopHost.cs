using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Orchestration.Jobs;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Runs;
using FeedbackLoop.Orchestration.Transport;
using FeedbackLoop.Orchestration.Worker;
using FeedbackLoop.Pipelines;

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

    /// <summary>
    /// Orchestrator: which apps may train. Null: the apps <see cref="Pipeline"/> lists under <c>apps:</c>. The seam for
    /// apps registered elsewhere (collector keys): pass one that combines them with the pipeline's.
    /// </summary>
    public IRegisteredApps? RegisteredApps { get; init; }

    /// <summary>Orchestrator: where model artifacts go.</summary>
    public LoopPaths? Paths { get; init; }

    /// <summary>
    /// Orchestrator: where snapshots of the datasets are taken. Worker: where a command job's reviewed snapshot is read
    /// from to write the one file its trainer reads.
    /// </summary>
    public ISnapshotSource? Snapshots { get; init; }

    /// <summary>Orchestrator: how jobs are watched.</summary>
    public OrchestratorOptions Orchestrator { get; init; } = new();

    /// <summary>Worker: its id, slots, folder and heartbeat.</summary>
    public WorkerOptions Worker { get; init; } = new();

    /// <summary>Worker: the in-process ML.NET trainer; without it the worker runs command jobs only.</summary>
    public InProcessTrainers? Trainers { get; init; }

    /// <summary>
    /// The key job offers are signed with (orchestrator) and checked against (worker); the same on every orchestrator and
    /// worker of a loop. Null: a random key for this process, which only works when both roles run in it.
    /// </summary>
    public JobKey? JobKey { get; init; }

    /// <summary>The clock of the store, the supervisor and the heartbeats.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
