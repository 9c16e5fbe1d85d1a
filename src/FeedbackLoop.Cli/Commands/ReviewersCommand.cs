using System.CommandLine;
using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Review.Accounts;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop reviewers add|list|remove</c>: the review app's accounts in <c>&lt;data&gt;/review/reviewers.json</c>.
/// A token is shown once, by <c>add</c>, as the first stdout line <c>token=&lt;token&gt;</c>; the file keeps its SHA-256.
/// </summary>
internal static class ReviewersCommand
{
    /// <summary>Prefix of <c>add</c>'s first stdout line.</summary>
    public const string TokenLinePrefix = "token=";

    /// <summary>Exit code of a refused change (a bad or taken name, an unknown reviewer) or an unreadable file.</summary>
    public const int RefusedExitCode = 2;

    public static Command Create()
    {
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = $"Data folder; the accounts live in <data>/review/reviewers.json (owner-only, hashes only). Default: ${LoopLocations.DataVariable}, else {LoopLocations.DefaultData}.",
        };
        var name = new Argument<string>("name") { Description = $"The reviewer's name, as the audit log records it: {ReviewerFile.NameRule}." };

        var add = new Command("add", "Add a reviewer; prints token=<token> once (their sign-in password for the review app).") { name, data };
        add.SetAction(parse => Run(parse, data, file =>
        {
            var (record, token) = file.Add(parse.GetValue(name)!, DateTimeOffset.UtcNow);
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine(TokenLinePrefix + token);
            output.WriteLine($"reviewer={record.Name} token_id={record.TokenId}");
        }));

        var list = new Command("list", "List the reviewers: name, token id, when added (never a token: the file has none).") { data };
        list.SetAction(parse => Run(parse, data, file =>
        {
            foreach (var reviewer in file.Read()) parse.InvocationConfiguration.Output.WriteLine(ReviewerFile.Describe(reviewer));
        }));

        var removeName = new Argument<string>("name") { Description = "The reviewer to remove (see 'reviewers list')." };
        var remove = new Command("remove", "Remove a reviewer: a signed-in session ends on its next request; their decisions stay in the audit log.") { removeName, data };
        remove.SetAction(parse => Run(parse, data, file =>
        {
            file.Remove(parse.GetValue(removeName)!);
            parse.InvocationConfiguration.Output.WriteLine($"removed {parse.GetValue(removeName)}");
        }));

        return new Command("reviewers", "Manage the review app's reviewer accounts.") { add, list, remove };
    }

    private static int Run(ParseResult parse, Option<DirectoryInfo?> data, Action<ReviewerFile> action)
    {
        try
        {
            action(ReviewerFile.Under(LoopLocations.Resolve(parse.GetValue(data)?.FullName, null).Data));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            parse.InvocationConfiguration.Error.WriteLine(e.Message);
            return RefusedExitCode;
        }
    }
}
