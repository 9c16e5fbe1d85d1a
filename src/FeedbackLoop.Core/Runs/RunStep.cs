namespace FeedbackLoop.Core.Runs;

/// <summary>Where one of a run's two jobs (tune, eval) stands, as the run step sees it.</summary>
public enum StageState
{
    /// <summary>The job does not exist yet.</summary>
    NotCreated,

    /// <summary>Created and not over: waiting for an offer, offered, running, or backing off before a retry.</summary>
    InProgress,

    /// <summary>An attempt succeeded.</summary>
    Succeeded,

    /// <summary>Every attempt it was allowed failed.</summary>
    Failed,

    /// <summary>A person cancelled it.</summary>
    Cancelled,
}

/// <summary>One job of the run: its state and, when it ended badly, why.</summary>
/// <param name="State">Where it stands.</param>
/// <param name="Reason">Why it failed or was cancelled; null otherwise.</param>
public sealed record Stage(StageState State, string? Reason = null)
{
    /// <summary>A job that does not exist yet.</summary>
    public static Stage NotCreated { get; } = new(StageState.NotCreated);

    /// <summary>True when it ended without a result (failed or cancelled).</summary>
    public bool EndedBadly => State is StageState.Failed or StageState.Cancelled;
}

/// <summary>The gate's recorded decision on the run's candidate.</summary>
/// <param name="Promote">Whether the gate passed the candidate.</param>
/// <param name="Reason">The gate's reason, as recorded.</param>
public sealed record RecordedDecision(bool Promote, string Reason);

/// <summary>Everything the run step decides on: what the store holds about one run, and the app's gate setting.</summary>
/// <param name="Running">The run is still running (a completed or failed run takes no more steps).</param>
/// <param name="Tune">The tuning job.</param>
/// <param name="CandidateRegistered">The candidate the tuning job trained is in the registry.</param>
/// <param name="Eval">The eval job.</param>
/// <param name="Decision">The gate's decision, once recorded.</param>
/// <param name="CandidateAwaitsPromotion">The candidate's registry status is still "candidate" (not promoted, rejected or retired).</param>
/// <param name="RequireSignoff">The app's pipeline holds a passed candidate for a person's sign-off instead of promoting it.</param>
/// <param name="StaleGate">
/// Null while the model the gate compared against still serves; otherwise why the verdict no longer holds (another
/// version became current after the gate decided), so the candidate is not promoted on it.
/// </param>
public sealed record RunFacts(
    bool Running,
    Stage Tune,
    bool CandidateRegistered,
    Stage Eval,
    RecordedDecision? Decision,
    bool CandidateAwaitsPromotion,
    bool RequireSignoff,
    string? StaleGate = null);

/// <summary>The stage of a run that failed.</summary>
public enum RunStage
{
    /// <summary>Training the candidate.</summary>
    Tuning,

    /// <summary>Scoring the candidate (and the incumbent) on the held-out pairs.</summary>
    Evaluation,
}

/// <summary>How a run that got a gate decision ended.</summary>
public enum RunOutcome
{
    /// <summary>The candidate passed the gate and now serves.</summary>
    Promoted,

    /// <summary>The candidate passed the gate and waits for a person's sign-off.</summary>
    AwaitingSignoff,

    /// <summary>The gate rejected the candidate.</summary>
    Rejected,

    /// <summary>
    /// The candidate passed the gate, but against a model that no longer serves (a person promoted another meanwhile):
    /// it stays a candidate, not promoted.
    /// </summary>
    Superseded,
}

/// <summary>What happens next in a run: exactly one thing, carried out by the orchestrator.</summary>
public abstract record RunAction
{
    /// <summary>Nothing to do now: a job is in progress, or the run is over. The next job report or sweep looks again.</summary>
    public static RunAction Wait { get; } = new WaitForJobs();

    /// <summary>Create the tuning job and offer it.</summary>
    public static RunAction CreateTuneJob { get; } = new CreateTune();

    /// <summary>Record the trained candidate in the registry (and announce it).</summary>
    public static RunAction RegisterCandidate { get; } = new Register();

    /// <summary>Create the eval job and offer it.</summary>
    public static RunAction CreateEvalJob { get; } = new CreateEval();

    /// <summary>Apply the gate to the eval job's report and record the decision.</summary>
    public static RunAction GateCandidate { get; } = new Gate();

    /// <summary>Make the candidate the app's current model.</summary>
    public static RunAction PromoteCandidate { get; } = new Promote();

    /// <summary>True for the actions that end the run.</summary>
    public bool EndsRun => this is FailRun or CompleteRun;

    /// <inheritdoc cref="Wait"/>
    public sealed record WaitForJobs : RunAction;

    /// <inheritdoc cref="CreateTuneJob"/>
    public sealed record CreateTune : RunAction;

    /// <inheritdoc cref="RegisterCandidate"/>
    public sealed record Register : RunAction;

    /// <inheritdoc cref="CreateEvalJob"/>
    public sealed record CreateEval : RunAction;

    /// <inheritdoc cref="GateCandidate"/>
    public sealed record Gate : RunAction;

    /// <inheritdoc cref="PromoteCandidate"/>
    public sealed record Promote : RunAction;

    /// <summary>End the run as failed (and announce why).</summary>
    /// <param name="Stage">The stage whose job failed for good.</param>
    /// <param name="Reason">Why, for people and the registry.</param>
    public sealed record FailRun(RunStage Stage, string Reason) : RunAction;

    /// <summary>End the run with its gate outcome (and announce it).</summary>
    /// <param name="Outcome">How it ended.</param>
    /// <param name="Reason">The reason recorded with the run.</param>
    public sealed record CompleteRun(RunOutcome Outcome, string Reason) : RunAction;
}

/// <summary>
/// The decision "what happens next in this run", as one pure function of what the store holds. The orchestrator gathers
/// <see cref="RunFacts"/>, carries out the one action this returns, and asks again until it says
/// <see cref="RunAction.Wait"/> or the run ends. Every action is idempotent, so an action lost to a crash between two
/// writes is simply decided and taken again (docs/adr/0001-own-durable-job-protocol.md).
/// </summary>
public static class RunStep
{
    /// <summary>The next action of the run described by <paramref name="facts"/>.</summary>
    public static RunAction Next(RunFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        if (!facts.Running)
        {
            return RunAction.Wait;
        }

        switch (facts.Tune.State)
        {
            case StageState.NotCreated:
                return RunAction.CreateTuneJob;
            case StageState.InProgress:
                return RunAction.Wait;
            case StageState.Failed or StageState.Cancelled:
                return new RunAction.FailRun(RunStage.Tuning, $"tuning {Text(facts.Tune.State)}: {facts.Tune.Reason}");
        }

        if (!facts.CandidateRegistered)
        {
            return RunAction.RegisterCandidate;
        }

        switch (facts.Eval.State)
        {
            case StageState.NotCreated:
                return RunAction.CreateEvalJob;
            case StageState.InProgress:
                return RunAction.Wait;
            case StageState.Failed or StageState.Cancelled:
                return new RunAction.FailRun(RunStage.Evaluation, $"evaluation {Text(facts.Eval.State)}: {facts.Eval.Reason}");
        }

        if (facts.Decision is not { } decision)
        {
            return RunAction.GateCandidate;
        }

        if (!decision.Promote)
        {
            return new RunAction.CompleteRun(RunOutcome.Rejected, decision.Reason);
        }

        if (facts.RequireSignoff)
        {
            return new RunAction.CompleteRun(RunOutcome.AwaitingSignoff, $"passed the gate; awaiting sign-off: {decision.Reason}");
        }

        // Promoted first, then the run completes: the registry is complete before anyone hears about the outcome.
        if (!facts.CandidateAwaitsPromotion)
        {
            return new RunAction.CompleteRun(RunOutcome.Promoted, decision.Reason);
        }

        return facts.StaleGate is { } stale
            ? new RunAction.CompleteRun(RunOutcome.Superseded, $"passed the gate, not promoted: {stale}")
            : RunAction.PromoteCandidate;
    }

    private static string Text(StageState state) => state == StageState.Cancelled ? "cancelled" : "failed";
}
