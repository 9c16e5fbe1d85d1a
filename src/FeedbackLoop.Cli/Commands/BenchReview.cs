using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop bench review</c>: writes an app's preference pairs (1,000,000 by default) as the extractor does, real
/// Parquet files in a temporary data folder, then times the review list's queries (<see cref="ReviewQuery"/>) server-side:
/// the first page, each filter, a deep page, a count and a text search, each repeated and reported as p50/p99; then the time
/// to open (build the index) and to take in one more file.
/// </summary>
internal static class BenchReview
{
    private const string App = "bench";
    private const int PageSize = 50;
    private const int FileRows = 100_000;
    private static readonly string[] Signals = [PairSignals.Comparison, PairSignals.Edit, PairSignals.Regenerate, PairSignals.Thumbs];
    private static readonly string[] Topics = ["shipping", "refunds", "passwords", "invoices", "delivery", "warranty", "sizes", "discounts"];

    public static Command Create()
    {
        var pairs = new Option<int>("--pairs") { Description = "Pairs to generate.", DefaultValueFactory = _ => 1_000_000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions of each query (after 3 warm-ups).", DefaultValueFactory = _ => 30 };
        var output = new Option<FileInfo>("--out") { Description = "Where to write the JSON result.", DefaultValueFactory = _ => new FileInfo("bench-results/review.json") };
        var command = new Command("review", "Time the review list's queries (list, filters, deep page, count, text search) over generated Parquet pairs.") { pairs, repeats, output };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(pairs), parse.GetValue(repeats), parse.GetValue(output)!, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static async Task<int> RunAsync(int pairs, int repeats, FileInfo output, TextWriter stderr, CancellationToken ct)
    {
        if (pairs < PageSize * 10 || repeats < 1)
        {
            await stderr.WriteLineAsync($"--pairs must be at least {PageSize * 10} and --repeats positive.").ConfigureAwait(false);
            return 2;
        }

        var folder = Directory.CreateTempSubdirectory("feedbackloop-bench-review-");
        try
        {
            var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var written = Stopwatch.StartNew();
            for (var first = 0; first < pairs; first += FileRows) await WriteAsync(folder.FullName, first, Math.Min(pairs, first + FileRows), start, ct).ConfigureAwait(false);

            await stderr.WriteLineAsync($"{pairs:N0} pairs written in {written.Elapsed.TotalSeconds:0.0} s").ConfigureAwait(false);
            var opened = Stopwatch.StartNew();
            using var query = await ReviewQuery.OpenAsync(folder.FullName, App, ct).ConfigureAwait(false);
            var openMs = opened.Elapsed.TotalMilliseconds;
            if (query.Unreadable.Count > 0)
            {
                await stderr.WriteLineAsync($"{query.Unreadable.Count} generated file(s) could not be read: {query.Unreadable[0].Reason}").ConfigureAwait(false);
                return 1;
            }

            // The whole process after opening: DuckDB's table (native memory) and the text index (managed arrays).
            using var self = Process.GetCurrentProcess();
            var workingSetMb = self.WorkingSet64 / (1024.0 * 1024);
            var managedMb = GC.GetTotalMemory(forceFullCollection: true) / (1024.0 * 1024);
            var searchMb = query.SearchBytes / (1024.0 * 1024);
            await stderr.WriteLineAsync($"opened (index built) in {openMs:0} ms; working set {workingSetMb:0} MiB, managed heap {managedMb:0} MiB, of which the text search {searchMb:0} MiB").ConfigureAwait(false);
            var span = TimeSpan.FromMilliseconds(pairs);
            var deepRows = (long)Math.Min(pairs / 2, 5_000 * PageSize);
            var deep = query.JumpTo(new ReviewFilter(), 1, deepRows).Next;

            var cases = new (string Name, Action Run)[]
            {
                ("list_first_page", () => query.List(new ReviewFilter(), PageSize)),
                ("filter_signal", () => query.List(new ReviewFilter(Signal: PairSignals.Edit), PageSize)),
                ("filter_model_version", () => query.List(new ReviewFilter(ModelVersion: "model-7"), PageSize)),
                ("filter_time_range", () => query.List(new ReviewFilter(From: start + span * 0.6, To: start + span * 0.7), PageSize)),
                ("page_deep_keyset", () => query.List(new ReviewFilter(), PageSize, deep)),
                ("page_jump_offset", () => query.JumpTo(new ReviewFilter(), PageSize, deepRows)),
                ("list_newest_first", () => query.List(new ReviewFilter(), PageSize, order: ReviewOrder.NewestFirst)),
                ("filter_signal_jump_page_100", () => query.JumpTo(new ReviewFilter(Signal: PairSignals.Edit), PageSize, 99 * PageSize, ReviewOrder.NewestFirst)),
                ("refresh_unchanged", () => query.RefreshAsync(ct).GetAwaiter().GetResult()),
                ("count_by_signal", () => query.CountBySignal(new ReviewFilter())),
                ("text_search", () => query.List(new ReviewFilter(Text: "warranty claim 4242"), PageSize)),
                // What the list page does for a search: one call for the count ("n matching", the page links) and the newest page.
                ("text_search_page", () => SearchPage(query, new ReviewFilter(Text: "Warranty Claim 4242"))),
                ("text_search_page_common_word", () => SearchPage(query, new ReviewFilter(Text: "warranty"))),
                ("text_search_page_and_signal", () => SearchPage(query, new ReviewFilter(Signal: PairSignals.Edit, Text: "warranty"))),
            };

            var results = new JsonObject();
            foreach (var (name, run) in cases)
            {
                for (var i = 0; i < 3; i++) run();
                var times = new double[repeats];
                for (var i = 0; i < repeats; i++)
                {
                    var watch = Stopwatch.StartNew();
                    run();
                    times[i] = watch.Elapsed.TotalMilliseconds;
                }

                Array.Sort(times);
                var (p50, p99) = (Percentile(times, 0.50), Percentile(times, 0.99));
                results[name] = new JsonObject { ["p50_ms"] = Math.Round(p50, 1), ["p99_ms"] = Math.Round(p99, 1) };
                await stderr.WriteLineAsync($"  {name,-22} p50 {p50,8:0.0} ms   p99 {p99,8:0.0} ms").ConfigureAwait(false);
            }

            // One more extractor file after the last: the refresh reads it and appends (the app's cost when a file appears).
            await WriteAsync(folder.FullName, pairs, pairs + FileRows, start, ct).ConfigureAwait(false);
            var refreshed = Stopwatch.StartNew();
            var refresh = await query.RefreshAsync(ct).ConfigureAwait(false);
            var refreshMs = refreshed.Elapsed.TotalMilliseconds;
            await stderr.WriteLineAsync($"a new file of {FileRows:N0} pairs taken in ({refresh.Step}) in {refreshMs:0} ms").ConfigureAwait(false);

            var result = new JsonObject
            {
                ["pairs"] = pairs,
                ["files"] = (pairs + FileRows - 1) / FileRows,
                ["page_size"] = PageSize,
                ["deep_page_rows_skipped"] = deepRows,
                ["repeats"] = repeats,
                ["open_ms"] = Math.Round(openMs, 1),
                ["refresh_new_file_ms"] = Math.Round(refreshMs, 1),
                ["refresh_new_file_rows"] = FileRows,
                ["working_set_after_open_mib"] = Math.Round(workingSetMb),
                ["managed_heap_after_open_mib"] = Math.Round(managedMb),
                ["text_search_index_mib"] = Math.Round(searchMb),
                ["peak_working_set_mib"] = Math.Round(PeakWorkingSetMb()),
                ["queries"] = results,
                ["machine"] = BenchCommand.Machine(),
                ["load_average_1m"] = LoadAverage(),
            };
            output.Directory?.Create();
            await File.WriteAllTextAsync(output.FullName, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", ct).ConfigureAwait(false);
            await stderr.WriteLineAsync($"written to {output.FullName}").ConfigureAwait(false);
            return 0;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Pairs [from, to) as one extractor file (a method of its own, so no batch outlives its write in the timed part).</summary>
    private static async Task WriteAsync(string root, int from, int to, DateTimeOffset start, CancellationToken ct)
    {
        var batch = new ExtractionOutput();
        for (var n = from; n < to; n++) batch.Pairs.Add(Pair(n, start));
        await new DatasetStore(root).WriteAsync(batch, ct).ConfigureAwait(false);
    }

    private static PreferencePair Pair(int n, DateTimeOffset start)
    {
        var topic = Topics[n % Topics.Length];
        // One pair in 100,000 holds the searched phrase, so the search must read every text to find them.
        var detail = n % 100_000 == 4242 ? "warranty claim 4242" : $"case {n % 977}";
        return new PreferencePair(
            StableId.Pair(Signals[n % 4], $"c{n}", $"r{n}"), App,
            [new ConversationTurn("system", "You are a helpful support assistant."), new ConversationTurn("user", $"I have a question about {topic}: {detail}.")],
            new ConversationTurn("assistant", $"Here is how {topic} works for {detail}: check your account page, then contact us if it is still unclear."),
            new ConversationTurn("assistant", $"There are many considerations about {topic}."),
            Signals[n % 4], 1.0, $"c{n}", $"r{n}", $"model-{n % 12}", $"model-{(n + 1) % 12}", $"s{n % 50_000}", $"u{n % 20_000}",
            start.AddMilliseconds(n));
    }

    private static void SearchPage(ReviewQuery query, ReviewFilter filter)
    {
        // The list page's one call (count and newest page); the rows must agree with the count.
        var listing = query.Listing(filter, PageSize, 1, ReviewOrder.NewestFirst);
        if (listing.Matching == 0 || listing.Page.Rows.Count != Math.Min(listing.Matching, PageSize))
        {
            throw new InvalidOperationException("the search's first page does not agree with its count");
        }
    }

    private static double PeakWorkingSetMb()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.PeakWorkingSet64 / (1024.0 * 1024);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
