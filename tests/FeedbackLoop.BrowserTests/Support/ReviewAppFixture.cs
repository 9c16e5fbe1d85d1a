using System.Text.RegularExpressions;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Snapshots;
using FeedbackLoop.Orchestration.Registry;
using Microsoft.Playwright;

namespace FeedbackLoop.BrowserTests.Support;

/// <summary>
/// One review app for a test class: real Parquet datasets written by the dataset store (app <see cref="Shop"/> with
/// ordinary pairs, app <see cref="Hostile"/> with script payloads), a reviewer added by <c>feedbackloop reviewers add</c>,
/// the app started by <c>feedbackloop serve --role review</c>, and Debian's Chromium driven by Playwright.
/// </summary>
public sealed class ReviewAppFixture : IAsyncLifetime, IDisposable
{
    public const string Shop = "shop";
    public const string Hostile = "hostile";
    public const string Bulk = "bulk";
    public const string Reviewer = "ada";
    public const string ModelVersion = "shop-v1";

    /// <summary>Text that runs script wherever it is parsed as HTML or followed as a URL; each sets <c>window.__xss</c>.</summary>
    public const string ScriptPayload = "<script>window.__xss='script';alert('script')</script>";
    public const string HandlerPayload = "<img src=x onerror=\"window.__xss='onerror';alert('onerror')\">";
    public const string UrlPayload = "<a href=\"javascript:window.__xss='url';alert('url')\" id=\"xss-link\">open</a> javascript:alert('url')";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly DateTimeOffset Start = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new("review-app");
    private CliRun? _app;

    public string Data => _folder.Combine("data");

    public Uri Url { get; private set; } = null!;

    /// <summary>The shop's snapshot taken before any review, which <see cref="ModelVersion"/> trained on.</summary>
    public string BaselineSnapshotId { get; private set; } = "";

    public string Token { get; private set; } = "";

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The one pair of <see cref="Hostile"/>.</summary>
    public PreferencePair HostilePair { get; private set; } = null!;

    /// <summary>The pairs of <see cref="Bulk"/>: two with "spam" in the chosen answer, one without.</summary>
    public IReadOnlyList<PreferencePair> BulkPairs { get; private set; } = [];

    /// <summary>The pairs of <see cref="Shop"/>, as written.</summary>
    public IReadOnlyList<PreferencePair> ShopPairs { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var output = new ExtractionOutput();
        for (var n = 0; n < 6; n++)
        {
            var signal = n % 3 == 0 ? PairSignals.Edit : PairSignals.Comparison;
            output.Pairs.Add(Pair(Shop, $"g{n}", $"Question {n}: what is the capital of country {n}?", $"Answer {n}, the better one.", $"Answer {n}, the worse one.", signal, Start.AddHours(n * 7)));
        }
        foreach (var (version, up) in new[] { ("model-a", 7L), ("model-b", 3L) })
        {
            output.Labels.Add(new FeedbackLabel(StableId.Label("l-" + version, "user-2"), Shop, [new ConversationTurn("user", "Label prompt")],
                new ConversationTurn("assistant", "Label answer"), up > 5, "l-" + version, version, "session-l", "user-2", Start.AddHours(12)));
            output.Windows.Add(new EngagementWindow(StableId.Of("engagement", Shop, version + "||0"), Shop, version, "", Start, Start.AddMinutes(1),
                20, up, 10 - up, 2, 1, 4, 0, 0, 3, 1, 0, null, null, null, 0));
        }
        for (var n = 0; n < 3; n++)
        {
            output.Pairs.Add(Pair(Bulk, $"b{n}", $"Bulk question {n}", n == 1 ? "Keep this one." : $"Spam answer {n}.", $"Other answer {n}.", PairSignals.Thumbs, Start.AddDays(n)));
        }
        output.Pairs.Add(Pair(Hostile, "h1", "Prompt " + ScriptPayload, "Chosen " + HandlerPayload, "Rejected " + UrlPayload, PairSignals.Comparison, Start));
        await new DatasetStore(Data).WriteAsync(output);
        ShopPairs = output.Pairs.Where(p => p.AppId == Shop).ToList();
        HostilePair = output.Pairs.Single(p => p.AppId == Hostile);
        BulkPairs = output.Pairs.Where(p => p.AppId == Bulk).ToList();

        // The orchestrator's store with one model trained on a first snapshot of the shop, as a run records it.
        var baseline = (await new SnapshotBook(Data).TakeAsync(Shop, "baseline", null)).Manifest;
        BaselineSnapshotId = baseline.SnapshotId;
        var store = _folder.Combine("store", "registry.db");
        Directory.CreateDirectory(Path.GetDirectoryName(store)!);
        var registry = new ModelRegistry(store);
        var files = baseline.PreferencePairs.Files.Select(f => new SnapshotFile(Path.Combine(DatasetPaths.Folder(Data, Shop, DatasetKinds.PreferencePairs), f.Name), f.Rows)).ToList();
        registry.StartRun("run-1", Shop, new DatasetSnapshot(Shop, files) { SnapshotId = baseline.SnapshotId });
        registry.RegisterCandidate(new ModelVersionRecord(ModelVersion, Shop, null, "run-1", "[]", "models/" + ModelVersion, "{}", ModelStatus.Candidate, Start));
        registry.RecordDecision(ModelVersion, true, 0.71, null, 0.71, 0.6, "no incumbent: the first model", Start.AddHours(1));

        using (var add = await CliRun.CompleteAsync(Deadline, "reviewers", "add", Reviewer, "--data", Data))
        {
            Assert.True(add.ExitCode == 0, add.Output);
            var first = add.StdoutLines[0];
            Assert.StartsWith(ReviewersCommand.TokenLinePrefix, first, StringComparison.Ordinal);
            Token = first[ReviewersCommand.TokenLinePrefix.Length..];
        }

        _app = CliRun.Start("serve", "--role", "review", "--data", Data, "--store", store, "--urls", "http://127.0.0.1:0");
        var line = await _app.FirstStdoutLineAsync(Deadline);
        Assert.StartsWith(CollectorServe.ListeningLinePrefix, line, StringComparison.Ordinal);
        Url = new Uri(line[CollectorServe.ListeningLinePrefix.Length..]);

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--no-sandbox"],
            Headless = true,
            Timeout = 60_000,
        });
    }

    /// <summary>A fresh browser context (its own cookies) whose waits end after 20 s.</summary>
    public async Task<IBrowserContext> NewContextAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Url.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(20_000);
        context.SetDefaultNavigationTimeout(20_000);
        return context;
    }

    /// <summary>Signs in through the sign-in form, as a reviewer does.</summary>
    public async Task<IPage> SignedInPageAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("#name", Reviewer);
        await page.FillAsync("#token", Token);
        await page.ClickAsync("#sign-in");
        await ArrivedAtAsync(page, new Regex("^" + Regex.Escape(Url.ToString()) + "$"));
        return page;
    }

    /// <summary>
    /// Waits until the page's address contains <paramref name="part"/> and that document has loaded. It polls the page's
    /// state (a web-first assertion) instead of waiting for a navigation event: <c>WaitForURLAsync</c> reads the current
    /// address and only then listens for navigations, so a navigation whose event is handled in between (the driver's
    /// events can arrive on another thread) would never be seen. That is the likely cause, not one reproduced here: CI
    /// saw such waits time out four times on a loaded machine (with Enter and with requestSubmit alike), each with no
    /// navigation seen at all.
    /// </summary>
    public Task ArrivedAtAsync(IPage page, string part) => ArrivedAtAsync(page, new Regex(Regex.Escape(part)));

    /// <summary>As <see cref="ArrivedAtAsync(IPage, string)"/>, for an address that matches <paramref name="address"/>.</summary>
    public async Task ArrivedAtAsync(IPage page, Regex address)
    {
        var timeout = (float)Deadline.TotalMilliseconds;
        try
        {
            await Assertions.Expect(page).ToHaveURLAsync(address, new PageAssertionsToHaveURLOptions { Timeout = timeout });
            await page.WaitForLoadStateAsync(LoadState.Load, new PageWaitForLoadStateOptions { Timeout = timeout });
        }
        catch (Exception e) when (e is PlaywrightException or TimeoutException)
        {
            throw new InvalidOperationException($"The page did not arrive at an address matching '{address}': it is at {page.Url}. The app's output:\n{AppOutput}", e);
        }
    }

    /// <summary>The app's output so far, for failure messages.</summary>
    public string AppOutput => _app?.Output ?? "";

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        _app?.Dispose();
    }

    /// <summary>After <see cref="DisposeAsync"/> (xunit calls both): the folder goes once the app's process is gone.</summary>
    public void Dispose() => _folder.Dispose();

    private static PreferencePair Pair(string app, string id, string prompt, string chosen, string rejected, string signal, DateTimeOffset at) => new(
        StableId.Pair(signal, id, id + "-rejected"), app, [new ConversationTurn("user", prompt)],
        new ConversationTurn("assistant", chosen), new ConversationTurn("assistant", rejected), signal, 1.0, id, id + "-rejected",
        signal == PairSignals.Edit ? PreferencePair.UserEditModelVersion : "model-a", "model-b", "session-" + id, "user-1", at);
}
