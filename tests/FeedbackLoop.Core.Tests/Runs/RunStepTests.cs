using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tests.Runs;

/// <summary>The run step as a table: what the store holds about a run → the one thing that happens next.</summary>
public sealed class RunStepTests
{
    private static readonly Stage NotCreated = Stage.NotCreated;
    private static readonly Stage InProgress = new(StageState.InProgress);
    private static readonly Stage Succeeded = new(StageState.Succeeded);
    private static readonly Stage Failed = new(StageState.Failed, "exit 1");
    private static readonly Stage Cancelled = new(StageState.Cancelled, "by ana");
    private static readonly RecordedDecision Passed = new(true, "candidate 0.700 vs incumbent 0.600");
    private static readonly RecordedDecision Rejected = new(false, "difference below the margin");

    public static TheoryData<string, RunFacts, RunAction> Table() => new()
    {
        { "a finished run takes no step", Facts(running: false), RunAction.Wait },
        { "a finished run with a failed job takes no step", Facts(running: false, tune: Failed), RunAction.Wait },
        { "a new run creates its tuning job", Facts(), RunAction.CreateTuneJob },
        { "tuning pending, offered or running: wait", Facts(tune: InProgress), RunAction.Wait },
        { "tuning failed for good fails the run", Facts(tune: Failed), new RunAction.FailRun(RunStage.Tuning, "tuning failed: exit 1") },
        { "tuning cancelled fails the run", Facts(tune: Cancelled), new RunAction.FailRun(RunStage.Tuning, "tuning cancelled: by ana") },
        { "tuning succeeded: register the candidate", Facts(tune: Succeeded), RunAction.RegisterCandidate },
        { "candidate registered: create the eval job", Facts(tune: Succeeded, registered: true), RunAction.CreateEvalJob },
        { "eval in progress: wait", Facts(tune: Succeeded, registered: true, eval: InProgress), RunAction.Wait },
        {
            "eval failed fails the run",
            Facts(tune: Succeeded, registered: true, eval: Failed),
            new RunAction.FailRun(RunStage.Evaluation, "evaluation failed: exit 1")
        },
        {
            "eval cancelled fails the run",
            Facts(tune: Succeeded, registered: true, eval: Cancelled),
            new RunAction.FailRun(RunStage.Evaluation, "evaluation cancelled: by ana")
        },
        { "eval succeeded: gate", Facts(tune: Succeeded, registered: true, eval: Succeeded), RunAction.GateCandidate },
        {
            "rejected: the run completes as rejected",
            Facts(tune: Succeeded, registered: true, eval: Succeeded, decision: Rejected),
            new RunAction.CompleteRun(RunOutcome.Rejected, "difference below the margin")
        },
        {
            "rejected under sign-off: still rejected, nobody is asked",
            Facts(tune: Succeeded, registered: true, eval: Succeeded, decision: Rejected, signoff: true),
            new RunAction.CompleteRun(RunOutcome.Rejected, "difference below the margin")
        },
        {
            "passed: promote first",
            Facts(tune: Succeeded, registered: true, eval: Succeeded, decision: Passed),
            RunAction.PromoteCandidate
        },
        {
            "passed and promoted: the run completes as promoted",
            Facts(tune: Succeeded, registered: true, eval: Succeeded, decision: Passed, awaitsPromotion: false),
            new RunAction.CompleteRun(RunOutcome.Promoted, "candidate 0.700 vs incumbent 0.600")
        },
        {
            "passed under sign-off: held, never promoted by the run",
            Facts(tune: Succeeded, registered: true, eval: Succeeded, decision: Passed, signoff: true),
            new RunAction.CompleteRun(RunOutcome.AwaitingSignoff, "passed the gate; awaiting sign-off: candidate 0.700 vs incumbent 0.600")
        },
        {
            "a decision recorded before the eval job was seen as succeeded still waits for the job",
            Facts(tune: Succeeded, registered: true, eval: InProgress, decision: Passed),
            RunAction.Wait
        },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Next_action(string situation, RunFacts facts, RunAction expected)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        Assert.Equal(expected, RunStep.Next(facts));
    }

    [Fact]
    public void Taking_each_step_in_turn_walks_a_run_from_start_to_promotion()
    {
        // Apply each action's effect to the facts, as the reconciler's store writes would: the walk must end, and in order.
        var facts = Facts();
        var taken = new List<RunAction>();
        for (var i = 0; i < 10 && RunStep.Next(facts) is var action && !action.EndsRun; i++)
        {
            taken.Add(action);
            facts = action switch
            {
                RunAction.CreateTune => facts with { Tune = Succeeded }, // the job runs and succeeds between two advances
                RunAction.Register => facts with { CandidateRegistered = true },
                RunAction.CreateEval => facts with { Eval = Succeeded },
                RunAction.Gate => facts with { Decision = Passed },
                RunAction.Promote => facts with { CandidateAwaitsPromotion = false },
                _ => throw new InvalidOperationException($"unexpected {action}"),
            };
        }

        Assert.Equal(
            [RunAction.CreateTuneJob, RunAction.RegisterCandidate, RunAction.CreateEvalJob, RunAction.GateCandidate, RunAction.PromoteCandidate],
            taken);
        Assert.Equal(new RunAction.CompleteRun(RunOutcome.Promoted, Passed.Reason), RunStep.Next(facts));
    }

    [Fact]
    public void Only_failing_and_completing_end_a_run()
    {
        Assert.True(new RunAction.FailRun(RunStage.Tuning, "x").EndsRun);
        Assert.True(new RunAction.CompleteRun(RunOutcome.Rejected, "x").EndsRun);
        Assert.All(
            [RunAction.Wait, RunAction.CreateTuneJob, RunAction.RegisterCandidate, RunAction.CreateEvalJob, RunAction.GateCandidate, RunAction.PromoteCandidate],
            action => Assert.False(action.EndsRun));
    }

    private static RunFacts Facts(
        bool running = true, Stage? tune = null, bool registered = false, Stage? eval = null, RecordedDecision? decision = null,
        bool awaitsPromotion = true, bool signoff = false) =>
        new(running, tune ?? NotCreated, registered, eval ?? NotCreated, decision, awaitsPromotion, signoff);
}
