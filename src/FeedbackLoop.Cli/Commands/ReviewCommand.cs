using System.CommandLine;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop review decide</c>: one review decision from the command line, for scripted bulk work. It goes to the
/// app's append-only audit log; the next snapshot applies it.
/// </summary>
internal static class ReviewCommand
{
    public static Command Create()
    {
        var data = DataFolder.Option();
        var app = new Option<string>("--app") { Description = "The app id.", Required = true };
        var item = new Option<string>("--item") { Description = "The pair_id or label_id decided on.", Required = true };
        var action = new Option<string>("--action") { Description = "Pairs: approve, exclude, swap, correct. Labels: approve, exclude, flip.", Required = true };
        action.AcceptOnlyFromAmong(ReviewActions.Approve, ReviewActions.Exclude, ReviewActions.Swap, ReviewActions.Correct, ReviewActions.Flip);
        var reason = new Option<string?>("--reason") { Description = "Why; required to exclude. One of " + string.Join(", ", ExclusionReasons.Listed) + ", or free text." };
        var text = new Option<string?>("--text") { Description = "correct only: the corrected answer, which becomes the chosen side (the original is kept)." };
        var textFile = new Option<FileInfo?>("--text-file") { Description = "correct only: read the corrected answer from this UTF-8 file instead." };
        var reviewer = new Option<string>("--reviewer") { Description = "Who decides (recorded in the audit log).", Required = true };

        var decide = new Command("decide", "Record a decision on one pair or label. First stdout line: decision=<id>. Repeating the item's latest decision records nothing.") { data, app, item, action, reason, text, textFile, reviewer };
        decide.Validators.Add(result =>
        {
            if (result.GetValue(text) is not null && result.GetValue(textFile) is not null)
                result.AddError("--text and --text-file: give one of them");
        });
        decide.SetAction((parse, ct) => DataFolder.RunAsync(parse, data, async root =>
        {
            var file = parse.GetValue(textFile);
            if (file is { Exists: false }) throw new ArgumentException($"no file at {file.FullName} for --text-file");
            var corrected = file is null ? parse.GetValue(text) : await File.ReadAllTextAsync(file.FullName, ct).ConfigureAwait(false);
            var request = new ReviewRequest(parse.GetValue(item)!, parse.GetValue(action)!, parse.GetValue(reviewer)!, parse.GetValue(reason), corrected);
            var outcome = await new ReviewLog(root, parse.GetValue(app)!).DecideAsync(request, ct).ConfigureAwait(false);
            Console.WriteLine($"decision={outcome.Decision.DecisionId}");
            Console.WriteLine($"item={outcome.Decision.Item}");
            Console.WriteLine($"kind={outcome.Decision.Kind}");
            Console.WriteLine($"action={outcome.Decision.Action}");
            Console.WriteLine($"before={outcome.Decision.Before.Action}");
            Console.WriteLine($"recorded={(outcome.Recorded ? "true" : "false")}");
            if (!outcome.Recorded) await Console.Error.WriteLineAsync("the item's latest decision is already this one: nothing recorded").ConfigureAwait(false);
            return 0;
        }));

        return new Command("review", "Review decisions on preference pairs and labels (the audit log the next snapshot applies).") { decide };
    }
}
