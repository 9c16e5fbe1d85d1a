using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>The apps with datasets, each with its pairs and how many have a decision.</summary>
public sealed class IndexModel(ReviewData data) : PageModel
{
    public sealed record AppRow(string App, int Pairs, int Reviewed);

    public IReadOnlyList<AppRow> Apps { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var rows = new List<AppRow>();
        foreach (var app in data.Apps())
        {
            var pairs = await data.PairsAsync(app, cancellationToken).ConfigureAwait(false);
            rows.Add(new AppRow(app, pairs.Pairs.Count, pairs.Pairs.Count(p => pairs.StateOf(p.PairId).Action != ReviewActions.None)));
        }
        Apps = rows;
    }
}
