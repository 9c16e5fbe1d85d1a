using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.IntegrationTests;

/// <summary><c>feedbackloop datasets agreement</c> as a real process, on a data folder the dataset store and the review log wrote.</summary>
public sealed class ReviewAgreementCliTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const string App = "shop";
    private readonly TempFolder _folder = new("review-agreement");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Agreement_prints_the_kappa_the_items_compared_and_each_pair_of_reviewers()
    {
        var data = _folder.Combine("data");
        var pairs = Enumerable.Range(0, 5).Select(i => new PreferencePair(
            StableId.Pair(PairSignals.Comparison, "g" + i, "r" + i), App, [new ConversationTurn("user", $"Question {i}")],
            new ConversationTurn("assistant", $"Chosen {i}"), new ConversationTurn("assistant", $"Rejected {i}"),
            PairSignals.Comparison, 1.0, "g" + i, "r" + i, "model-a", "model-b", "s" + i, "u" + i, DateTimeOffset.UnixEpoch.AddMinutes(i))).ToList();
        var output = new ExtractionOutput();
        output.Pairs.AddRange(pairs);
        await new DatasetStore(data).WriteAsync(output);
        var log = new ReviewLog(data, App);
        // ann and bob: approve/approve, exclude/exclude, approve/exclude, swap/swap → 3 of 4 alike.
        (string Ann, string Bob)[] actions = [("approve", "approve"), ("exclude", "exclude"), ("approve", "exclude"), ("swap", "swap")];
        foreach (var (decided, (ann, bob)) in pairs.Zip(actions))
        {
            await log.DecideAsync(new ReviewRequest(decided.PairId, ann, "ann", ann == "exclude" ? "low-quality" : null));
            await log.DecideAsync(new ReviewRequest(decided.PairId, bob, "bob", bob == "exclude" ? "off-topic" : null));
        }

        await log.DecideAsync(new ReviewRequest(pairs[4].PairId, "approve", "ann")); // one reviewer only: not compared

        using var text = CliProcess.Start("datasets", "agreement", "--data", data, "--app", App);
        Assert.True(await text.ExitAsync(Deadline) == 0, text.Output);
        // p_o = 0.75; ann approve 2, exclude 1, swap 1; bob approve 1, exclude 2, swap 1 (of 4): p_e = 0.3125; kappa = 0.636.
        Assert.Equal("kappa=0.636", await text.FirstStdoutLineAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("method=cohen", text.Output, StringComparison.Ordinal);
        Assert.Contains("items_compared=4", text.Output, StringComparison.Ordinal);

        using var json = CliProcess.Start("datasets", "agreement", "--data", data, "--app", App, "--json");
        Assert.True(await json.ExitAsync(Deadline) == 0, json.Output);
        using var report = JsonDocument.Parse(json.Output);
        Assert.Equal(4, report.RootElement.GetProperty("items_compared").GetInt32());
        var pair = Assert.Single(report.RootElement.GetProperty("pairs").EnumerateArray());
        Assert.Equal(("ann", "bob", 0.75), (pair.GetProperty("reviewer_a").GetString(), pair.GetProperty("reviewer_b").GetString(), pair.GetProperty("observed_agreement").GetDouble()));
        Assert.Equal(0.4375 / 0.6875, pair.GetProperty("kappa").GetDouble(), 10);

        using var labels = CliProcess.Start("datasets", "agreement", "--data", data, "--app", App, "--kind", "label");
        Assert.True(await labels.ExitAsync(Deadline) == 0, labels.Output);
        Assert.Equal("kappa=undefined", await labels.FirstStdoutLineAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("note=no item was decided by two reviewers or more", labels.Output, StringComparison.Ordinal);
    }
}
