using System.Globalization;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Review.Hosting;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>
/// The filtered list with paging and bulk actions. A bulk action is one decision per ticked pair through
/// <see cref="ReviewLog"/> (the same code as <c>review decide</c>), at most one page of pairs at a time.
/// </summary>
public sealed class PairsModel(ReviewData data) : PageModel
{
    /// <summary>Pairs per page, and so the most one bulk action decides.</summary>
    public const int PageSize = 50;

    [FromRoute]
    public string App { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string? Signal { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Model { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? From { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? To { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Text { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? State { get; set; }

    [BindProperty(SupportsGet = true, Name = "p")]
    public int PageNumber { get; set; } = 1;

    public IReadOnlyList<ReviewRow> Rows { get; private set; } = [];

    public long Matching { get; private set; }

    public int Pages { get; private set; }

    /// <summary>Dataset files the list could not read (named on the page, so a missing file is never a silent gap).</summary>
    public IReadOnlyList<UnreadableDatasetFile> Unreadable { get; private set; } = [];

    public string? Message { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? done, CancellationToken cancellationToken)
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        Message = done is { Length: <= 20 } && int.TryParse(done, CultureInfo.InvariantCulture, out var n) ? $"{n} decision(s) recorded." : null;
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string[]? ids, string? decision, string? reason, CancellationToken cancellationToken)
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        ids ??= [];
        if (ids.Length is 0 or > PageSize || decision is not (ReviewActions.Approve or ReviewActions.Exclude or ReviewActions.Swap))
        {
            return await Refuse($"tick 1 to {PageSize} pairs and choose approve, exclude (with a reason) or swap", cancellationToken);
        }
        var reviewer = User.FindFirst(ReviewApp.ReviewerClaim)!.Value;
        var log = new ReviewLog(data.DataRoot, App);
        var recorded = 0;
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            try
            {
                if ((await log.DecideAsync(new ReviewRequest(id, decision, reviewer, decision == ReviewActions.Exclude ? reason : null), cancellationToken).ConfigureAwait(false)).Recorded) recorded++;
            }
            catch (ReviewRefusedException e)
            {
                return await Refuse($"{recorded} recorded, then: {e.Message}", cancellationToken);
            }
        }
        return Redirect(Link(PageNumber) + "&done=" + recorded.ToString(CultureInfo.InvariantCulture));
    }

    public string Link(int page) =>
        $"/apps/{Uri.EscapeDataString(App)}/pairs?signal={Uri.EscapeDataString(Signal ?? "")}&model={Uri.EscapeDataString(Model ?? "")}&from={Uri.EscapeDataString(From ?? "")}"
        + $"&to={Uri.EscapeDataString(To ?? "")}&text={Uri.EscapeDataString(Text ?? "")}&state={Uri.EscapeDataString(State ?? "")}&p={page.ToString(CultureInfo.InvariantCulture)}";

    private async Task<IActionResult> Refuse(string message, CancellationToken cancellationToken)
    {
        Message = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return Page();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        // Newest first; a page number is a jump (the row before it found once), the page itself a keyset page (docs/REVIEW.md).
        var query = await data.QueryAsync(App, cancellationToken).ConfigureAwait(false);
        var filter = PairFilter.FromForm(Signal, Model, From, To, Text, State);
        // One call for the count and the page, so a text search scans the texts once per request (docs/adr/0041).
        var listing = query.Listing(filter, PageSize, PageNumber, ReviewOrder.NewestFirst);
        (Matching, Pages, PageNumber, Rows) = (listing.Matching, listing.Pages, listing.PageNumber, listing.Page.Rows);
        Unreadable = query.Unreadable;
    }
}
