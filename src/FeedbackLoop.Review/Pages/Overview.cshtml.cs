using FeedbackLoop.Datasets;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>An app's overview (<see cref="Queue.Overview"/>), its chart drawn as inline SVG on the server.</summary>
public sealed class OverviewModel(ReviewData data) : PageModel
{
    [FromRoute]
    public string App { get; set; } = "";

    public Overview Overview { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        var pairs = await data.PairsAsync(App, cancellationToken).ConfigureAwait(false);
        var labels = await DatasetReader.ReadLabelsAsync(data.DataRoot, App, cancellationToken).ConfigureAwait(false);
        var engagement = await DatasetReader.ReadEngagementTotalsAsync(data.DataRoot, App, cancellationToken).ConfigureAwait(false);
        Overview = Overview.Of(pairs, labels, engagement);
        return Page();
    }
}
