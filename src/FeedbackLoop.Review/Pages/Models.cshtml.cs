using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>An app's models, newest first, each with the snapshot it trained on and its gate decision.</summary>
public sealed class ModelsModel(ReviewData data, ModelCatalog catalog) : PageModel
{
    [FromRoute]
    public string App { get; set; } = "";

    public IReadOnlyList<ModelRow> Models { get; private set; } = [];

    public string? Source => catalog.Source;

    public IActionResult OnGet()
    {
        if (!data.Has(App)) return NotFound();
        ViewData["App"] = App;
        Models = [.. catalog.For(App).OrderByDescending(m => m.CreatedAt)];
        return Page();
    }
}
