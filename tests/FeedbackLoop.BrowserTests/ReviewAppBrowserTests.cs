using System.Net;
using System.Text.Json;
using FeedbackLoop.BrowserTests.Support;
using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;
using Microsoft.Playwright;

namespace FeedbackLoop.BrowserTests;

/// <summary>
/// The review app in headless Chromium against a real <c>serve --role review</c> process: sign-in, decisions made with the
/// keyboard reaching the snapshot and its exports, hostile text staying text, and the refusals (no sign-in, no token).
/// </summary>
public sealed class ReviewAppBrowserTests(ReviewAppFixture app) : IClassFixture<ReviewAppFixture>
{
    private static readonly TimeSpan CliDeadline = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("/")]
    [InlineData("/apps/shop/queue")]
    [InlineData("/apps/shop/snapshots")]
    [InlineData("/apps/shop")]
    [InlineData("/apps/shop/pairs")]
    [InlineData("/apps/shop/models")]
    public async Task A_page_opened_without_signing_in_redirects_to_the_sign_in_page(string path)
    {
        await using var context = await app.NewContextAsync();
        var page = await context.NewPageAsync();

        var response = await page.GotoAsync(path);

        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal("/login", new Uri(page.Url).AbsolutePath);
        Assert.Contains("ReturnUrl=" + Uri.EscapeDataString(path), page.Url, StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#pair").CountAsync());
    }

    [Fact]
    public async Task A_wrong_token_is_refused_and_signs_nobody_in()
    {
        await using var context = await app.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("#name", ReviewAppFixture.Reviewer);
        await page.FillAsync("#token", "flr_000000000000_" + new string('A', 43));
        await page.ClickAsync("#sign-in");

        await Assertions.Expect(page.Locator("#login-error")).ToBeVisibleAsync();
        await page.GotoAsync("/apps/shop/queue");
        Assert.Equal("/login", new Uri(page.Url).AbsolutePath);
    }

    [Fact]
    public async Task A_form_posted_without_its_antiforgery_token_is_refused_and_records_nothing()
    {
        await using var context = await app.NewContextAsync();
        var page = await app.SignedInPageAsync(context);
        var log = new ReviewLog(app.Data, ReviewAppFixture.Hostile);
        var before = (await log.ReadAsync()).Count;
        var pairId = app.HostilePair.PairId;

        // The signed-in browser's own cookies and a request the app would record, but no __RequestVerificationToken.
        var forged = await context.APIRequest.PostAsync("/apps/hostile/queue?only=all", new APIRequestContextOptions
        {
            Form = context.APIRequest.CreateFormData().Set("pairId", pairId).Set("decision", ReviewActions.Approve),
            MaxRedirects = 0,
        });
        var forgedSignIn = await context.APIRequest.PostAsync("/login", new APIRequestContextOptions
        {
            Form = context.APIRequest.CreateFormData().Set("name", ReviewAppFixture.Reviewer).Set("token", app.Token),
            MaxRedirects = 0,
        });

        Assert.Equal((int)HttpStatusCode.BadRequest, forged.Status);
        Assert.Equal((int)HttpStatusCode.BadRequest, forgedSignIn.Status);
        Assert.Equal(before, (await log.ReadAsync()).Count);
        await Screenshots.TakeAsync(page, "apps");
    }

    [Fact]
    public async Task Every_response_carries_the_strict_content_security_policy_and_its_siblings()
    {
        await using var context = await app.NewContextAsync();
        var page = await context.NewPageAsync();
        var response = await page.GotoAsync("/login");

        Assert.NotNull(response);
        var headers = await response.AllHeadersAsync();
        Assert.Equal(Review.Hosting.ReviewApp.ContentSecurityPolicy, headers["content-security-policy"]);
        Assert.Equal("nosniff", headers["x-content-type-options"]);
        Assert.Equal("no-referrer", headers["referrer-policy"]);
        await Screenshots.TakeAsync(page, "login");
    }

    [Fact]
    public async Task Hostile_prompt_and_answers_are_shown_as_literal_text_and_no_script_runs()
    {
        await using var context = await app.NewContextAsync();
        var page = await app.SignedInPageAsync(context);
        var dialogs = new List<string>();
        var console = new List<string>();
        page.Dialog += async (_, dialog) =>
        {
            lock (dialogs) dialogs.Add(dialog.Message);
            await dialog.DismissAsync();
        };
        page.Console += (_, message) =>
        {
            lock (console) console.Add(message.Type + ": " + message.Text);
        };

        await page.GotoAsync("/apps/hostile/queue?only=all");
        await Assertions.Expect(page.Locator("#pair")).ToBeVisibleAsync();
        // The one place a javascript: URL could hide is a link: clicking through the page's only links proves nothing runs.
        Assert.Equal(0, await page.Locator("a[href^='javascript:' i], #xss-link, img[onerror], script:not([src])").CountAsync());
        await page.Locator("#rejected").ClickAsync();
        await page.Keyboard.PressAsync("Escape");

        Assert.Equal("Prompt " + ReviewAppFixture.ScriptPayload, await page.Locator("#prompt pre.text").InnerTextAsync());
        Assert.Equal("Chosen " + ReviewAppFixture.HandlerPayload, await page.Locator("#chosen").InnerTextAsync());
        Assert.Equal("Rejected " + ReviewAppFixture.UrlPayload, await page.Locator("#rejected").InnerTextAsync());
        Assert.Equal("undefined", await page.EvaluateAsync<string>("() => typeof window.__xss"));
        // The page has loaded its own script (the shortcuts work), and nothing else: no dialog, no console message (a CSP
        // violation from an injected inline script would be one).
        await page.Keyboard.PressAsync("e");
        Assert.Equal("correction", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        lock (dialogs) Assert.Empty(dialogs);
        lock (console) Assert.Empty(console);
    }

    [Fact]
    public async Task A_reviewer_excludes_and_swaps_with_the_keyboard_corrects_a_third_and_the_next_snapshot_and_its_exports_hold_exactly_that()
    {
        await using var context = await app.NewContextAsync();
        var page = await app.SignedInPageAsync(context);
        await Screenshots.TakeAsync(page, "apps");

        await page.GotoAsync("/apps/shop/queue?sampling=random&seed=7");
        var excluded = await CurrentPairAsync(page);
        await Screenshots.TakeAsync(page, "queue");
        await page.Keyboard.PressAsync("4"); // the fourth listed reason
        await app.ArrivedAtAsync(page, "decided=exclude");

        var swapped = await CurrentPairAsync(page);
        Assert.NotEqual(excluded, swapped);
        await page.Keyboard.PressAsync("s");
        await app.ArrivedAtAsync(page, "decided=swap");

        var corrected = await CurrentPairAsync(page);
        Assert.DoesNotContain(corrected, new[] { excluded, swapped });
        const string Correction = "A corrected answer, written by the reviewer.";
        await page.Keyboard.PressAsync("e");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync(Correction);
        await page.Keyboard.PressAsync("Control+Enter");
        await app.ArrivedAtAsync(page, "decided=correct");

        // The audit log: exactly these three, by the signed-in reviewer, through the same code as `review decide`.
        var decisions = await new ReviewLog(app.Data, ReviewAppFixture.Shop).ReadAsync();
        Assert.Equal(
            [(excluded, ReviewActions.Exclude, ExclusionReasons.Listed[3]), (swapped, ReviewActions.Swap, null), (corrected, ReviewActions.Correct, null)],
            decisions.Select(d => (d.Item, d.Action, d.Reason)).ToArray());
        Assert.All(decisions, d => Assert.Equal(ReviewAppFixture.Reviewer, d.Reviewer));
        Assert.Equal(Correction, decisions[2].Text);

        await page.GotoAsync("/apps/shop/snapshots");
        await page.Keyboard.PressAsync("t");
        await app.ArrivedAtAsync(page, "taken=");
        var snapshotId = await page.Locator("#taken code").InnerTextAsync();
        await Assertions.Expect(page.Locator($"tr[data-snapshot-id='{snapshotId}']")).ToContainTextAsync("3 changed by review");
        await Screenshots.TakeAsync(page, "snapshots");

        await page.GotoAsync("/apps/shop");
        await Assertions.Expect(page.Locator("#reasons")).ToContainTextAsync(ExclusionReasons.Listed[3]);
        await Assertions.Expect(page.Locator("#totals")).ToContainTextAsync($"reviewed 3 of {app.ShopPairs.Count + 2}");
        await Assertions.Expect(page.Locator("#engagement tr", new PageLocatorOptions { HasText = "model-a" })).ToContainTextAsync("20");
        Assert.Equal(app.ShopPairs.Count + 2, await page.Locator("#chart rect[class^='s-']").EvaluateAllAsync<int>(
            "rects => rects.reduce((sum, r) => sum + Number(r.querySelector('title').textContent.split(': ')[1].split(' ')[0]), 0)"));
        await Screenshots.TakeAsync(page, "overview");

        var manifest = new SnapshotBook(app.Data).Get(snapshotId);
        Assert.Equal(app.ShopPairs.Count, manifest.PreferencePairs.Rows);
        Assert.Equal(app.ShopPairs.Count - 1, manifest.PreferencePairs.RowsAfterReview);
        Assert.Equal(decisions.Select(d => d.DecisionId).Order(StringComparer.Ordinal), manifest.Review.Applied.Select(d => d.DecisionId).Order(StringComparer.Ordinal));
        Assert.Equal(app.BaselineSnapshotId, manifest.Parent);

        var trl = await ExportAsync(snapshotId, "trl");
        var openAi = await ExportAsync(snapshotId, "openai");
        Assert.Equal(app.ShopPairs.Count - 1, trl.Count);
        Assert.Equal(trl.Count, openAi.Count);
        var rows = trl.ToDictionary(r => r.GetProperty("pair_id").GetString()!);
        Assert.False(rows.ContainsKey(excluded));
        foreach (var original in app.ShopPairs.Where(p => p.PairId != excluded))
        {
            var row = rows[original.PairId];
            var (chosen, rejected) = (Content(row, "chosen"), Content(row, "rejected"));
            if (original.PairId == swapped) Assert.Equal((original.Rejected.Content, original.Chosen.Content), (chosen, rejected));
            else if (original.PairId == corrected) Assert.Equal((Correction, original.Rejected.Content), (chosen, rejected));
            else Assert.Equal((original.Chosen.Content, original.Rejected.Content), (chosen, rejected));
        }
        // The OpenAI rows are in the same order as TRL's, so the same row's preferred output is the same text.
        for (var n = 0; n < trl.Count; n++)
        {
            Assert.Equal(Content(trl[n], "chosen"), openAi[n].GetProperty("preferred_output")[0].GetProperty("content").GetString());
        }
    }

    [Fact]
    public async Task The_list_filters_by_text_and_a_bulk_exclusion_decides_exactly_the_ticked_pairs()
    {
        await using var context = await app.NewContextAsync();
        var page = await app.SignedInPageAsync(context);

        await page.GotoAsync("/apps/bulk/pairs");
        Assert.Equal(app.BulkPairs.Count, await page.Locator("#pairs tr[data-pair-id]").CountAsync());
        // "/" focuses the text filter (the page's shortcut); the filter then goes in by the field itself, so a keystroke the
        // busy browser delivered late cannot land elsewhere, and Enter submits the filter form.
        await page.Keyboard.PressAsync("/");
        await Assertions.Expect(page.Locator("#text")).ToBeFocusedAsync();
        await page.Locator("#text").FillAsync("SPAM");
        // The filter form is submitted as Enter would submit it (requestSubmit runs the same submit path); the keyboard
        // shortcut is what the focus assertion above tests.
        await page.Locator("#text").EvaluateAsync("field => { field.form.requestSubmit(); }");
        await app.ArrivedAtAsync(page, "text=SPAM");
        var shown = await page.Locator("#pairs tr[data-pair-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.pairId)");
        var spam = app.BulkPairs.Where(p => p.Chosen.Content.StartsWith("Spam", StringComparison.Ordinal)).Select(p => p.PairId).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(spam, shown.Order(StringComparer.Ordinal).ToArray());

        foreach (var box in await page.Locator("#pairs input[name=ids]").AllAsync()) await box.CheckAsync();
        await page.SelectOptionAsync("#bulk select[name=reason]", "duplicate");
        await page.ClickAsync("#bulk button[value=exclude]");
        await Assertions.Expect(page.Locator("#message")).ToHaveTextAsync("2 decision(s) recorded.");
        await Screenshots.TakeAsync(page, "pairs");

        var decisions = await new ReviewLog(app.Data, ReviewAppFixture.Bulk).ReadAsync();
        Assert.Equal(spam, decisions.Select(d => d.Item).Order(StringComparer.Ordinal).ToArray());
        Assert.All(decisions, d => Assert.Equal((ReviewActions.Exclude, "duplicate", ReviewAppFixture.Reviewer), (d.Action, d.Reason, d.Reviewer)));
    }

    [Fact]
    public async Task The_models_page_shows_each_model_with_the_snapshot_it_trained_on_and_its_gate_decision()
    {
        await using var context = await app.NewContextAsync();
        var page = await app.SignedInPageAsync(context);

        await page.GotoAsync("/apps/shop/models");

        var row = page.Locator("#models tr", new PageLocatorOptions { HasText = ReviewAppFixture.ModelVersion });
        await Assertions.Expect(row).ToContainTextAsync(app.BaselineSnapshotId);
        await Assertions.Expect(row).ToContainTextAsync("passed: no incumbent: the first model");
        await Assertions.Expect(row).ToContainTextAsync(app.ShopPairs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Screenshots.TakeAsync(page, "models");
    }

    private static async Task<string> CurrentPairAsync(IPage page) =>
        await page.Locator("#pair").GetAttributeAsync("data-pair-id") ?? throw new InvalidOperationException("the queue shows no pair");

    private static string Content(JsonElement row, string side) => row.GetProperty(side)[0].GetProperty("content").GetString()!;

    private async Task<List<JsonElement>> ExportAsync(string snapshotId, string format)
    {
        var file = Path.Combine(app.Data, "..", $"export-{format}.jsonl");
        using var run = await CliRun.CompleteAsync(CliDeadline, "datasets", "export", "--data", app.Data, "--snapshot", snapshotId, "--format", format, "--out", file);
        Assert.True(run.ExitCode == 0, run.Output);
        return [.. File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }
}
