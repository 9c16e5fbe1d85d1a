using FeedbackLoop.Datasets.Snapshots;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>
/// An app's snapshots with their lineage (each one's parent) and what changed from the parent; the button takes a new
/// one through <see cref="SnapshotBook"/>, the same code as <c>feedbackloop datasets snapshot</c>.
/// </summary>
public sealed class SnapshotsModel(ReviewData data) : PageModel
{
    public sealed record Row(SnapshotManifest Manifest, SnapshotDiff? FromParent);

    [FromRoute]
    public string App { get; set; } = "";

    public IReadOnlyList<Row> Rows { get; private set; } = [];

    public string? Taken { get; private set; }

    public string? Refusal { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? taken, CancellationToken cancellationToken)
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        Taken = SnapshotBook.IsId(taken) ? taken : null;
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string? name, CancellationToken cancellationToken)
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        try
        {
            var taken = await new SnapshotBook(data.DataRoot).TakeAsync(App, string.IsNullOrWhiteSpace(name) ? null : name.Trim(), null, cancellationToken).ConfigureAwait(false);
            return Redirect($"/apps/{Uri.EscapeDataString(App)}/snapshots?taken={taken.Manifest.SnapshotId}");
        }
        catch (SnapshotException e)
        {
            Refusal = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            return Page();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var book = new SnapshotBook(data.DataRoot);
        var manifests = book.List(App);
        var byId = manifests.ToDictionary(m => m.SnapshotId, StringComparer.Ordinal);
        var rows = new List<Row>();
        foreach (var m in manifests.Reverse())
        {
            SnapshotDiff? diff = null;
            if (m.Parent is { } parent && byId.TryGetValue(parent, out var before))
            {
                diff = SnapshotDiff.Compute(
                    await book.ContentAsync(before, cancellationToken).ConfigureAwait(false),
                    await book.ContentAsync(m, cancellationToken).ConfigureAwait(false));
            }
            rows.Add(new Row(m, diff));
        }
        Rows = rows;
    }
}
