using System.Globalization;
using DuckDB.NET.Data;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Datasets.Review;

/// <summary>Which pairs a review list shows; every field optional (null: no condition).</summary>
/// <param name="Signal">Only pairs of this signal (comparison, edit, regenerate, thumbs).</param>
/// <param name="ModelVersion">Only pairs where this model version wrote either side.</param>
/// <param name="From">Only pairs created at or after this time.</param>
/// <param name="To">Only pairs created before this time.</param>
/// <param name="Text">Only pairs whose prompt, chosen or rejected text contains this (case-insensitive, literal).</param>
/// <param name="ReviewAction">Only pairs whose latest decision is this action (<c>none</c>: not reviewed).</param>
public sealed record ReviewFilter(
    string? Signal = null, string? ModelVersion = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Text = null,
    string? ReviewAction = null);

/// <summary>One pair as a review list shows it, with its latest review decision applied as a label (the texts as extracted).</summary>
public sealed record ReviewRow(
    string PairId, string Signal, double Weight, string ChosenModelVersion, string RejectedModelVersion, DateTimeOffset CreatedAt,
    string Prompt, string Chosen, string Rejected, string ReviewAction);

/// <summary>A page of a review list, and the cursor of the next page (null on the last).</summary>
public sealed record ReviewPage(IReadOnlyList<ReviewRow> Rows, string? Next);

/// <summary>
/// Lists, counts and searches an app's preference pairs where the extractor wrote them, for the review app: DuckDB reads
/// the Parquet files in place (no copy, no index to keep in step) and the latest review decision per pair is joined in
/// from the review log. Pages are keyset pages in (created_at, pair_id) order, so page 5,000 costs what page 1 does.
/// One instance holds one in-memory DuckDB connection over the files present when it was opened; not thread-safe.
/// </summary>
public sealed class ReviewQuery : IDisposable
{
    /// <summary>The most rows one page may hold.</summary>
    public const int MaxPageSize = 500;

    private readonly DuckDBConnection _connection;
    private readonly bool _empty;

    private ReviewQuery(DuckDBConnection connection, bool empty)
    {
        _connection = connection;
        _empty = empty;
    }

    /// <summary>Opens the app's pair files and review log as they are now.</summary>
    public static async Task<ReviewQuery> OpenAsync(string dataRoot, string appId, CancellationToken cancellationToken = default)
    {
        var files = DatasetPaths.Files(DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs));
        var latest = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var d in await new ReviewLog(dataRoot, appId).ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (d.Kind == ReviewItemKinds.Pair) latest[d.Item] = d.Action;
        }

        var connection = new DuckDBConnection("Data Source=:memory:");
        try
        {
            connection.Open();
            Execute(connection, "CREATE TABLE decisions (item VARCHAR PRIMARY KEY, action VARCHAR NOT NULL)");
            using (var appender = connection.CreateAppender("decisions"))
            {
                foreach (var (item, action) in latest) appender.CreateRow().AppendValue(item).AppendValue(action).EndRow();
            }

            if (files.Count > 0)
            {
                // Paths are ours (the data folder and content-derived file names), quoted as SQL strings all the same.
                var list = string.Join(", ", files.Select(f => "'" + f.Replace("'", "''", StringComparison.Ordinal) + "'"));
                Execute(connection, $"""
                    CREATE VIEW pairs AS
                    SELECT p.pair_id, p.signal, p.weight, p.chosen_model_version, p.rejected_model_version, epoch_us(p.created_at) AS created_us,
                           array_to_string(list_transform(p.prompt, m -> m.content), chr(10)) AS prompt_text,
                           array_to_string(list_transform(p.chosen, m -> m.content), chr(10)) AS chosen_text,
                           array_to_string(list_transform(p.rejected, m -> m.content), chr(10)) AS rejected_text,
                           coalesce(d.action, 'none') AS review_action
                    FROM read_parquet([{list}]) p LEFT JOIN decisions d ON d.item = p.pair_id
                    """);
            }

            return new ReviewQuery(connection, files.Count == 0);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>How many pairs match.</summary>
    public long Count(ReviewFilter filter)
    {
        if (_empty) return 0;
        using var command = Command("SELECT count(*) FROM pairs", filter, after: null);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>How many pairs match, per signal.</summary>
    public IReadOnlyDictionary<string, long> CountBySignal(ReviewFilter filter)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (_empty) return counts;
        using var command = Command("SELECT signal, count(*) FROM pairs", filter, after: null, tail: " GROUP BY signal");
        using var reader = command.ExecuteReader();
        while (reader.Read()) counts[reader.GetString(0)] = reader.GetInt64(1);
        return counts;
    }

    /// <summary>The page of up to <paramref name="pageSize"/> matching pairs after <paramref name="after"/> (a page's <see cref="ReviewPage.Next"/>; null: the first).</summary>
    /// <exception cref="ArgumentException">The cursor is not one this component wrote.</exception>
    public ReviewPage List(ReviewFilter filter, int pageSize, string? after = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        if (_empty) return new ReviewPage([], null);
        using var command = Command(
            "SELECT pair_id, signal, weight, chosen_model_version, rejected_model_version, created_us, prompt_text, chosen_text, rejected_text, review_action FROM pairs",
            filter, Cursor.Parse(after), tail: " ORDER BY created_us, pair_id LIMIT " + (pageSize + 1).ToString(CultureInfo.InvariantCulture));
        var rows = new List<ReviewRow>(pageSize + 1);
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows.Add(new ReviewRow(
                    reader.GetString(0), reader.GetString(1), reader.GetDouble(2), reader.GetString(3), reader.GetString(4),
                    DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(5) * 10), reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9)));
            }
        }

        if (rows.Count <= pageSize) return new ReviewPage(rows, null);
        rows.RemoveAt(pageSize);
        return new ReviewPage(rows, Cursor.Of(rows[^1]));
    }

    /// <summary>
    /// The page that starts after the first <paramref name="skip"/> matching rows (page n of size s: skip = (n − 1)·s), for a
    /// jump to a page: the row before it is found by offset once, then the page is a keyset page like any other. Empty when
    /// there are not that many rows. Following <see cref="ReviewPage.Next"/> is the cheaper way on.
    /// </summary>
    public ReviewPage JumpTo(ReviewFilter filter, int pageSize, long skip)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        if (skip == 0 || _empty) return List(filter, pageSize);
        string? anchor;
        using (var command = Command("SELECT created_us, pair_id FROM pairs", filter, after: null,
                   tail: " ORDER BY created_us, pair_id LIMIT 1 OFFSET " + (skip - 1).ToString(CultureInfo.InvariantCulture)))
        using (var reader = command.ExecuteReader())
        {
            anchor = reader.Read() ? string.Create(CultureInfo.InvariantCulture, $"{reader.GetInt64(0)}:{reader.GetString(1)}") : null;
        }

        return anchor is null ? new ReviewPage([], null) : List(filter, pageSize, anchor);
    }

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private DuckDBCommand Command(string select, ReviewFilter filter, Cursor? after, string tail = "")
    {
        ArgumentNullException.ThrowIfNull(filter);
        var command = _connection.CreateCommand();
        var where = new List<string>();
        void Add(string condition, string name, object value)
        {
            where.Add(condition);
            command.Parameters.Add(new DuckDBParameter(name, value));
        }

        if (filter.Signal is { } signal) Add("signal = $signal", "signal", signal);
        if (filter.ModelVersion is { } version) Add("(chosen_model_version = $version OR rejected_model_version = $version)", "version", version);
        if (filter.From is { } from) Add("created_us >= $from", "from", MicrosOf(from));
        if (filter.To is { } to) Add("created_us < $to", "to", MicrosOf(to));
        if (filter.ReviewAction is { } action) Add("review_action = $action", "action", action);
        if (!string.IsNullOrEmpty(filter.Text))
        {
            // contains() on lower-cased text: the search is literal, so % and _ in what a reviewer types mean themselves.
            Add("(contains(lower(prompt_text), $text) OR contains(lower(chosen_text), $text) OR contains(lower(rejected_text), $text))",
                "text", filter.Text.ToLowerInvariant());
        }

        if (after is { } cursor)
        {
            where.Add("(created_us > $after_us OR (created_us = $after_us AND pair_id > $after_id))");
            command.Parameters.Add(new DuckDBParameter("after_us", cursor.Micros));
            command.Parameters.Add(new DuckDBParameter("after_id", cursor.PairId));
        }

        command.CommandText = select + (where.Count == 0 ? "" : " WHERE " + string.Join(" AND ", where)) + tail;
        return command;
    }

    private static long MicrosOf(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>The last row of a page as the next page's starting point: its time in µs and its id.</summary>
    private readonly record struct Cursor(long Micros, string PairId)
    {
        public static string Of(ReviewRow row) => string.Create(CultureInfo.InvariantCulture, $"{MicrosOf(row.CreatedAt)}:{row.PairId}");

        public static Cursor? Parse(string? text)
        {
            if (text is null) return null;
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == text.Length - 1
                || !long.TryParse(text.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros))
            {
                throw new ArgumentException("not a page cursor of this list (use the Next of the previous page)", nameof(text));
            }

            return new Cursor(micros, text[(colon + 1)..]);
        }
    }
}
