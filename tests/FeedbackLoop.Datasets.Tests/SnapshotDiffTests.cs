using FeedbackLoop.Datasets.Review;
using FeedbackLoop.Datasets.Snapshots;

namespace FeedbackLoop.Datasets.Tests;

/// <summary>Snapshot diffs as a table: added, removed and changed-by-review rows between two contents.</summary>
public sealed class SnapshotDiffTests
{
    // Each content is written "ids|states": ids comma-separated (pairs p*, labels l*), states as id=action.
    [Theory]
    [InlineData("p1,p2|", "p1,p2|", "", "", "")]
    [InlineData("p1|", "p1,p2,l1|", "p2,l1", "", "")]
    [InlineData("p1,p2,l1|", "p1|", "", "p2,l1", "")]
    [InlineData("p1,p2|", "p1,p2|p1=exclude", "", "", "p1:none>exclude")]
    [InlineData("p1,p2|p1=exclude", "p1,p2|p1=approve,p2=swap", "", "", "p1:exclude>approve,p2:none>swap")]
    [InlineData("p1,l1|l1=flip", "p1,l1|l1=flip", "", "", "")]
    [InlineData("p1|p1=swap", "p1|", "", "", "p1:swap>none")]
    // A row added already excluded is "added", not "changed": the first snapshot never held it.
    [InlineData("p1|", "p1,p2|p2=exclude", "p2", "", "")]
    // A decision on a row the older snapshot lacked and the newer one dropped changes nothing both hold.
    [InlineData("p1,p2|p2=swap", "p1|", "", "p2", "")]
    public void Diff_reports_added_removed_and_changed_by_review(string a, string b, string added, string removed, string changed)
    {
        var diff = SnapshotDiff.Compute(Content(a), Content(b));

        Assert.Equal(List(added), [.. diff.AddedPairs, .. diff.AddedLabels]);
        Assert.Equal(List(removed), [.. diff.RemovedPairs, .. diff.RemovedLabels]);
        Assert.Equal(List(changed), diff.ChangedByReview.Select(c => $"{c.Item}:{c.Before.Action}>{c.After.Action}").ToList());
    }

    [Fact]
    public void A_new_reason_or_correction_text_is_a_change_by_review()
    {
        var a = new SnapshotContent(new HashSet<string> { "p1", "p2" }, new HashSet<string>(), new Dictionary<string, ReviewState>
        {
            ["p1"] = new(ReviewActions.Exclude, "harmful"), ["p2"] = new(ReviewActions.Correct, null, "one"),
        });
        var b = a with
        {
            States = new Dictionary<string, ReviewState> { ["p1"] = new(ReviewActions.Exclude, "duplicate"), ["p2"] = new(ReviewActions.Correct, null, "two") },
        };

        Assert.Equal(["p1", "p2"], SnapshotDiff.Compute(a, b).ChangedByReview.Select(c => c.Item));
    }

    private static SnapshotContent Content(string text)
    {
        var parts = text.Split('|');
        var ids = List(parts[0]);
        var states = List(parts[1]).Select(s => s.Split('=')).ToDictionary(s => s[0], s => new ReviewState(s[1]));
        return new SnapshotContent(ids.Where(i => i[0] == 'p').ToHashSet(), ids.Where(i => i[0] == 'l').ToHashSet(), states);
    }

    private static List<string> List(string text) => text.Length == 0 ? [] : [.. text.Split(',')];
}
