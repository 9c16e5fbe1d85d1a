using Dapper;
using FeedbackLoop.Core.Runs;
using FeedbackLoop.Orchestration.Store;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>An app whose due run waits until enough of its new pairs are reviewed.</summary>
/// <param name="AppId">The app.</param>
/// <param name="Since">When the run first had to wait.</param>
/// <param name="CheckedAt">When the review was last counted.</param>
/// <param name="Progress">The new pairs and how many are reviewed, as last counted.</param>
/// <param name="NeededPairs">How many must be reviewed for the run to start.</param>
/// <param name="MinFraction">The pipeline's <c>review.min_reviewed_fraction</c> at the last count.</param>
/// <param name="Reason">What <c>runs list</c> shows ("waiting for review: …").</param>
public sealed record ReviewWaitRecord(
    string AppId, DateTimeOffset Since, DateTimeOffset CheckedAt, ReviewProgress Progress, long NeededPairs, double MinFraction, string Reason);

/// <summary>
/// The apps whose due run waits for review, in the store beside the runs (one row per app, removed when the run starts),
/// so the wait and its reason survive a restart and the command line can show them without asking the orchestrator.
/// </summary>
public sealed class ReviewWaits(StoreDatabase database, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Records (or refreshes) the app's wait with the latest count.</summary>
    /// <returns>True when the app was not waiting before (the wait starts now).</returns>
    public bool Record(string appId, ReviewProgress progress, ReviewVerdict verdict, double minFraction)
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentNullException.ThrowIfNull(verdict);
        if (verdict.Proceed || verdict.Reason is null) throw new ArgumentException("only a verdict that waits is recorded", nameof(verdict));

        var now = StoreText.Timestamp(_clock.GetUtcNow());
        using var connection = database.Connect();
        using var transaction = database.BeginWrite(connection);
        var existed = connection.ExecuteScalar<long>("SELECT COUNT(*) FROM review_waits WHERE app_id = @app_id", new { app_id = appId }, transaction) > 0;
        connection.Execute(
            """
            INSERT INTO review_waits (app_id, since, checked_at, new_pairs, reviewed_pairs, needed_pairs, min_fraction, reason)
            VALUES (@app_id, @now, @now, @new_pairs, @reviewed_pairs, @needed_pairs, @min_fraction, @reason)
            ON CONFLICT (app_id) DO UPDATE SET checked_at = excluded.checked_at, new_pairs = excluded.new_pairs,
                reviewed_pairs = excluded.reviewed_pairs, needed_pairs = excluded.needed_pairs, min_fraction = excluded.min_fraction,
                reason = excluded.reason
            """,
            new
            {
                app_id = appId, now, new_pairs = progress.NewPairs, reviewed_pairs = progress.ReviewedPairs, needed_pairs = verdict.Needed,
                min_fraction = minFraction, reason = verdict.Reason,
            },
            transaction);
        transaction.Commit();
        return !existed;
    }

    /// <summary>Ends the app's wait (its run starts, or the policy no longer applies).</summary>
    /// <returns>True when the app was waiting.</returns>
    public bool End(string appId)
    {
        using var connection = database.Connect();
        using var transaction = database.BeginWrite(connection);
        var ended = connection.Execute("DELETE FROM review_waits WHERE app_id = @app_id", new { app_id = appId }, transaction) == 1;
        transaction.Commit();
        return ended;
    }

    /// <summary>The app's wait, or null when it is not waiting.</summary>
    public ReviewWaitRecord? Of(string appId)
    {
        using var connection = database.Connect();
        return connection.QuerySingleOrDefault<WaitRow>($"{Columns} WHERE app_id = @app_id", new { app_id = appId })?.ToRecord();
    }

    /// <summary>Every waiting app, longest waiting first.</summary>
    public IReadOnlyList<ReviewWaitRecord> All()
    {
        using var connection = database.Connect();
        return [.. connection.Query<WaitRow>($"{Columns} ORDER BY since, app_id").Select(row => row.ToRecord())];
    }

    private const string Columns =
        "SELECT app_id, since, checked_at, new_pairs, reviewed_pairs, needed_pairs, min_fraction, reason FROM review_waits";

    private sealed class WaitRow
    {
        public string AppId { get; init; } = "";
        public string Since { get; init; } = "";
        public string CheckedAt { get; init; } = "";
        public long NewPairs { get; init; }
        public long ReviewedPairs { get; init; }
        public long NeededPairs { get; init; }
        public double MinFraction { get; init; }
        public string Reason { get; init; } = "";

        public ReviewWaitRecord ToRecord() => new(
            AppId, StoreText.ParseTimestamp(Since), StoreText.ParseTimestamp(CheckedAt), new ReviewProgress(NewPairs, ReviewedPairs), NeededPairs,
            MinFraction, Reason);
    }
}
