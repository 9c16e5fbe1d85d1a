using Microsoft.Playwright;

namespace FeedbackLoop.BrowserTests.Support;

/// <summary>
/// Screenshots of the pages for docs/REVIEW.md. Every test run takes them (a page that cannot render fails the test);
/// they are written to docs/review/ only when FEEDBACKLOOP_UPDATE_SCREENSHOTS=1, so CI never dirties the tree.
/// </summary>
internal static class Screenshots
{
    public const string UpdateVariable = "FEEDBACKLOOP_UPDATE_SCREENSHOTS";

    public static async Task TakeAsync(IPage page, string name)
    {
        var png = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true });
        Assert.True(png.Length > 1000, $"the screenshot of {name} is empty");
        if (Environment.GetEnvironmentVariable(UpdateVariable) != "1") return;
        await File.WriteAllBytesAsync(Path.Combine(RepositoryFolder.Root, "docs", "review", name + ".png"), png);
    }
}
