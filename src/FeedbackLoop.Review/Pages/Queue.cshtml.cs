using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Review.Hosting;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>
/// The queue: one pair at a time with every action a button and a key. Decisions go through <see cref="ReviewLog"/>,
/// the same code as <c>feedbackloop review decide</c>, with the signed-in reviewer's name.
/// </summary>
public sealed class QueueModel(ReviewData data) : PageModel
{
    /// <summary>The signals a queue can be sampled by.</summary>
    public static IReadOnlyList<string> Signals { get; } = [PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate, PairSignals.Thumbs];

    [FromRoute]
    public string App { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string Sampling { get; set; } = QueueSampling.Random;

    [BindProperty(SupportsGet = true)]
    public string? Signal { get; set; }

    [BindProperty(SupportsGet = true)]
    public int Seed { get; set; } = 1;

    [BindProperty(SupportsGet = true)]
    public string Only { get; set; } = "todo";

    [BindProperty(SupportsGet = true)]
    public int I { get; set; }

    public IReadOnlyList<PreferencePair> Queue { get; private set; } = [];

    public PreferencePair? Pair { get; private set; }

    public ReviewState State { get; private set; } = ReviewState.Unreviewed;

    public ReviewDecision? Latest { get; private set; }

    public IReadOnlyList<DiffPart>? Diff { get; private set; }

    public string? Refusal { get; private set; }

    public string? Decided { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? decided, CancellationToken cancellationToken)
    {
        if (!Valid()) return NotFound();
        Decided = decided;
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string pairId, string decision, string? reason, string? otherReason, string? text, CancellationToken cancellationToken)
    {
        if (!Valid()) return NotFound();
        // A listed reason's button, else the typed one.
        reason = string.IsNullOrWhiteSpace(reason) ? otherReason : reason;
        var reviewer = User.FindFirst(ReviewApp.ReviewerClaim)!.Value;
        try
        {
            var outcome = await new ReviewLog(data.DataRoot, App).DecideAsync(
                new ReviewRequest(pairId, decision, reviewer, string.IsNullOrWhiteSpace(reason) ? null : reason.Trim(), decision == ReviewActions.Correct ? text : null),
                cancellationToken).ConfigureAwait(false);
            // Post/redirect/get: "to review" moves on by itself (the decided pair leaves it); "all" steps to the next pair.
            return Redirect(Link(Only == "todo" ? I : I + 1) + "&decided=" + Uri.EscapeDataString(outcome.Decision.Action));
        }
        catch (ReviewRefusedException e)
        {
            Refusal = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            return Page();
        }
    }

    /// <summary>The queue's address at position <paramref name="index"/>, keeping its sampling.</summary>
    public string Link(int index, string? only = null) =>
        $"/apps/{Uri.EscapeDataString(App)}/queue?sampling={Sampling}&signal={Uri.EscapeDataString(Signal ?? "")}&seed={Seed}&only={only ?? Only}&i={index}";

    private bool Valid()
    {
        if (!data.Has(App)) return false;
        if (!QueueSampling.All.Contains(Sampling)) Sampling = QueueSampling.Random;
        if (Signal is not null && !Signals.Contains(Signal)) Signal = null;
        if (Only is not ("todo" or "all")) Only = "todo";
        ViewData["App"] = App;
        return true;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var pairs = await data.PairsAsync(App, cancellationToken).ConfigureAwait(false);
        Queue = QueueOrder.Of(pairs, Sampling, Seed, Signal, Only == "todo");
        I = Queue.Count == 0 ? 0 : Math.Clamp(I, 0, Queue.Count - 1);
        if (Queue.Count == 0) return;
        Pair = Queue[I];
        State = pairs.StateOf(Pair.PairId);
        Latest = pairs.Latest.GetValueOrDefault(Pair.PairId);
        if (Pair.Signal == PairSignals.Edit) Diff = WordDiff.Of(Pair.Rejected.Content, Pair.Chosen.Content);
    }
}
