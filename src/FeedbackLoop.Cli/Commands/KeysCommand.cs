using System.CommandLine;
using System.Text.Json;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop keys create|list|revoke</c>: the collector's write keys. A key is shown once, by <c>create</c>, as the
/// first stdout line <c>key=&lt;secret&gt;</c>; the file keeps only its SHA-256, its id, its app and when it was made.
/// </summary>
internal static class KeysCommand
{
    /// <summary>Prefix of <c>create</c>'s first stdout line.</summary>
    public const string KeyLinePrefix = "key=";

    /// <summary>Exit code of a refused change (a bad app id, a third active key, an unknown key id) or an unreadable file.</summary>
    public const int RefusedExitCode = 2;

    public static Command Create()
    {
        var file = new Option<FileInfo>("--keys") { Description = "The keys file (created owner-only on first use; holds hashes only).", Required = true };

        var app = new Option<string>("--app") { Description = $"The app the key writes for: {AppIds.Rule}.", Required = true };
        var create = new Command("create", "Make a write key for an app; prints key=<secret> once (store it in the app's secret store). At most two active keys per app, for rotation.") { app, file };
        create.SetAction(parse => Run(parse, () =>
        {
            var (record, key) = new WriteKeyFile(parse.GetValue(file)!.FullName).Create(parse.GetValue(app)!, DateTimeOffset.UtcNow);
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine(KeyLinePrefix + key);
            output.WriteLine($"key_id={record.KeyId} app={record.AppId}");
        }));

        var json = new Option<bool>("--json") { Description = "Print JSON instead of lines." };
        var list = new Command("list", "List the keys: id, app, when made, active or revoked (never a secret: the file has none).") { file, json };
        list.SetAction(parse => Run(parse, () =>
        {
            var keys = new WriteKeyFile(parse.GetValue(file)!.FullName).Read();
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new WriteKeyDocument([.. keys.Select(k => k with { Sha256 = "" })]), WriteKeyJsonContext.Default.WriteKeyDocument));
                return;
            }
            foreach (var key in keys) output.WriteLine(WriteKeyFile.Describe(key));
        }));

        var keyId = new Argument<string>("key-id") { Description = "The id of the key to revoke (see 'keys list')." };
        var revoke = new Command("revoke", "Revoke a key: a running collector refuses it within a second (401 revoked_key).") { keyId, file };
        revoke.SetAction(parse => Run(parse, () =>
        {
            var id = parse.GetValue(keyId)!;
            var revoked = new WriteKeyFile(parse.GetValue(file)!.FullName).Revoke(id, DateTimeOffset.UtcNow);
            parse.InvocationConfiguration.Output.WriteLine(revoked ? $"revoked {id}" : $"{id} was already revoked");
        }));

        return new Command("keys", "Manage the collector's write keys.") { create, list, revoke };
    }

    private static int Run(ParseResult parse, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            parse.InvocationConfiguration.Error.WriteLine(e.Message);
            return RefusedExitCode;
        }
    }
}
