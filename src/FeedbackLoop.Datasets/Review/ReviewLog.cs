using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FeedbackLoop.Durability;

namespace FeedbackLoop.Datasets.Review;

/// <summary>A review request that cannot be recorded; the message says which rule it broke and never quotes the text sent.</summary>
public sealed class ReviewRefusedException(string reason) : InvalidOperationException("Refused review decision: " + reason + ".");

/// <summary>What <see cref="ReviewLog.DecideAsync"/> did: the decision in force, and whether it added a line.</summary>
public sealed record ReviewOutcome(ReviewDecision Decision, bool Recorded);

/// <summary>
/// The append-only audit log of an app's review decisions, <c>&lt;data&gt;/datasets/&lt;app_id&gt;/review/decisions.jsonl</c>:
/// one JSON object per line, never rewritten. Each decision is written under an exclusive lock and fsynced before
/// <see cref="DecideAsync"/> returns; a line cut short by a crash (the last one, without its newline) is ignored on read and
/// the next write starts on a fresh line. The source datasets are never touched: snapshots apply the latest decision per item.
/// </summary>
public sealed class ReviewLog
{
    /// <summary>The log's file name inside the app's review folder.</summary>
    public const string FileName = "decisions.jsonl";

    private readonly string _dataRoot;
    private readonly string _appId;
    private readonly ReviewSettings _settings;
    private readonly TimeProvider _time;

    public ReviewLog(string dataRoot, string appId, ReviewSettings? settings = null, TimeProvider? time = null)
    {
        _dataRoot = dataRoot;
        _appId = appId;
        _settings = settings ?? ReviewSettings.Default;
        _time = time ?? TimeProvider.System;
        Folder = DatasetPaths.ReviewFolder(dataRoot, appId);
        FilePath = Path.Combine(Folder, FileName);
    }

    /// <summary>The app's review folder.</summary>
    public string Folder { get; }

    /// <summary>The log file.</summary>
    public string FilePath { get; }

    /// <summary>Every decision in log order; empty when nobody decided anything yet.</summary>
    public async Task<IReadOnlyList<ReviewDecision>> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(FilePath)) return [];
        var stream = await OpenAsync(FileMode.Open, FileAccess.Read, FileShare.Read, cancellationToken).ConfigureAwait(false);
        await using var _ = stream.ConfigureAwait(false);
        return (await ReadAllAsync(stream, cancellationToken).ConfigureAwait(false)).Decisions;
    }

    /// <summary>
    /// Records a decision about one item of the app, unless it repeats the item's latest decision
    /// (<see cref="ReviewRules.Repeats"/>). Throws <see cref="ReviewRefusedException"/> for an unknown item or a request
    /// the rules refuse.
    /// </summary>
    public async Task<ReviewOutcome> DecideAsync(ReviewRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var item = await ReviewItems.FindAsync(_dataRoot, _appId, request.Item, request.Action == ReviewActions.Correct, cancellationToken).ConfigureAwait(false)
            ?? throw new ReviewRefusedException("the app has no preference pair or label with that id");
        if (ReviewRules.Refusal(request, item.Kind, _settings) is { } refusal) throw new ReviewRefusedException(refusal);

        DurableFile.CreatePrivateDirectory(Folder);
        var created = !File.Exists(FilePath);
        var stream = await OpenAsync(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var (decisions, tornAt, endsWithNewline) = await ReadAllAsync(stream, cancellationToken).ConfigureAwait(false);
            var latest = decisions.LastOrDefault(d => d.Item == request.Item);
            if (ReviewRules.Repeats(latest, request)) return new ReviewOutcome(latest!, Recorded: false);

            var decidedAt = _time.GetUtcNow();
            var decision = new ReviewDecision(
                DecisionId(request, decidedAt, decisions.Count), _appId, request.Item, item.Kind, request.Action, request.Reason,
                request.Text, request.Reviewer, decidedAt, latest?.After ?? ReviewState.Unreviewed,
                request.Action == ReviewActions.Correct ? item.OriginalChosen : null);
            var line = new StringBuilder();
            if (tornAt is { } torn) stream.SetLength(torn); // a crash's unacknowledged half line, cut under the lock
            else if (!endsWithNewline) line.Append('\n');
            line.Append(JsonSerializer.Serialize(decision, DatasetJson.Line)).Append('\n');
            stream.Seek(0, SeekOrigin.End);
            await stream.WriteAsync(Encoding.UTF8.GetBytes(line.ToString()), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
            if (created) FolderSync.Sync(Folder);
            return new ReviewOutcome(decision, Recorded: true);
        }
    }

    /// <summary>Unique per line: the same request at the same instant as the same line number is the same decision.</summary>
    private string DecisionId(ReviewRequest request, DateTimeOffset at, int line)
    {
        var text = string.Join('\u001f', _appId, request.Item, request.Action, request.Reason, request.Text, request.Reviewer,
            at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture), line.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return "dec-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
    }

    /// <summary>
    /// Parses the whole log. A last line without its newline that does not parse is a write a crash cut short (never
    /// acknowledged, so never in force): it is skipped, and <c>TornAt</c> says where it starts so the next writer can cut it
    /// off. Any other line that does not parse means the file was edited, and is an error.
    /// </summary>
    private static async Task<LogContent> ReadAllAsync(FileStream stream, CancellationToken cancellationToken)
    {
        stream.Seek(0, SeekOrigin.Begin);
        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        var decisions = new List<ReviewDecision>();
        var start = 0;
        for (var number = 1; start < bytes.Length; number++)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            var last = end < 0;
            var line = bytes.AsSpan(start, (last ? bytes.Length : end) - start);
            if (!line.IsEmpty)
            {
                try
                {
                    decisions.Add(JsonSerializer.Deserialize<ReviewDecision>(line, DatasetJson.Line)
                        ?? throw new InvalidDataException($"review log line {number} is null"));
                }
                catch (JsonException) when (last)
                {
                    return new LogContent(decisions, TornAt: start, EndsWithNewline: false);
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"review log line {number} is not a decision ({e.GetType().Name} at byte {e.BytePositionInLine}); the log is append-only and must not be edited by hand", e);
                }
            }
            if (last) break;
            start = end + 1;
        }
        return new LogContent(decisions, TornAt: null, EndsWithNewline: bytes.Length == 0 || bytes[^1] == (byte)'\n');
    }

    private sealed record LogContent(List<ReviewDecision> Decisions, long? TornAt, bool EndsWithNewline);

    /// <summary>
    /// Opens the log, waiting while another process holds it (.NET takes an advisory flock: exclusive for writers, shared for
    /// readers) up to <see cref="ReviewSettings.LockTimeout"/>.
    /// </summary>
    private async Task<FileStream> OpenAsync(FileMode mode, FileAccess access, FileShare share, CancellationToken cancellationToken)
    {
        // Real time, not _time: a test's frozen clock must not turn a held lock into an endless wait.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows() && mode != FileMode.Open)
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        while (true)
        {
            try
            {
                return new FileStream(FilePath, options);
            }
            catch (IOException) when (File.Exists(FilePath) && waited.Elapsed < _settings.LockTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
