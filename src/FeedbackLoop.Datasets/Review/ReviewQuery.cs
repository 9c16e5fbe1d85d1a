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
/// <remarks>
/// <c>Prompt</c> holds the prompt's messages one per line; <c>ReviewReason</c> the latest decision's reason (exclusions),
/// or null; <c>LastPrompt</c> the prompt's last message (what the user asked).
/// </remarks>
public sealed record ReviewRow(
    string PairId, string Signal, double Weight, string ChosenModelVersion, string RejectedModelVersion, DateTimeOffset CreatedAt,
    string Prompt, string Chosen, string Rejected, string ReviewAction, string? ReviewReason = null, string LastPrompt = "");

/// <summary>A page of a review list, and the cursor of the next page (null on the last).</summary>
public sealed record ReviewPage(IReadOnlyList<ReviewRow> Rows, string? Next);

/// <summary>A list page: how many pairs match, which page this is of how many, and its rows.</summary>
public sealed record ReviewListing(long Matching, int PageNumber, int Pages, ReviewPage Page);

/// <summary>Which way a review list runs.</summary>
public enum ReviewOrder
{
    /// <summary>By (created_at, pair_id), oldest first.</summary>
    OldestFirst,

    /// <summary>By (created_at, pair_id) descending, newest first (the review app's list).</summary>
    NewestFirst,
}

/// <summary>A dataset file the index could not read, and DuckDB's reason.</summary>
public sealed record UnreadableDatasetFile(string Path, string Reason);

/// <summary>What a refresh took in: the files read, and the files that could not be read (reported until they change).</summary>
public sealed record ReviewRefresh(IReadOnlyList<string> Read, IReadOnlyList<UnreadableDatasetFile> Unreadable, ReviewIndexStep Step);

/// <summary>
/// Lists, counts and searches an app's preference pairs for the review app and <c>bench review</c> (the one query path of
/// both). The pairs are copied once from the extractor's Parquet files into an in-memory DuckDB table, sorted by
/// (created_at, pair_id) and numbered in that order (<c>seq</c>), with the texts also kept lower-cased for search
/// (docs/adr/0040). Row-group min/max statistics on <c>seq</c> and <c>created_us</c> then let a first page, a keyset page
/// and a time range read one row group instead of all; the texts are fetched for the page's rows only.
/// <see cref="RefreshAsync"/> reads files that appeared since (appended when they sort after the indexed rows, otherwise
/// the table is sorted again) and the review log when it changed, so a decision shows in the next list.
/// A file that cannot be read is reported in <see cref="Unreadable"/>, never skipped quietly. Thread-safe: one query at a time.
/// </summary>
public sealed class ReviewQuery : IDisposable
{
    /// <summary>The most rows one page may hold.</summary>
    public const int MaxPageSize = 500;

    /// <summary>DuckDB's rows per row group (its default), the unit its min/max statistics skip by.</summary>
    private const int RowGroupRows = 122_880;

    private const string Columns =
        "file, pair_id, signal, weight, chosen_model_version, rejected_model_version, created_us, prompt_text, prompt_last, chosen_text, rejected_text";

    private readonly DuckDBConnection _connection;
    private readonly string _folder;
    private readonly ReviewLog _log;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private readonly Dictionary<string, long> _indexed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _fileIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Length, string Reason)> _unreadable = new(StringComparer.Ordinal);
    private readonly ReviewTextIndex _text = new();
    private Search? _search;
    private Dictionary<string, ReviewState> _latest = new(StringComparer.Ordinal);
    private (long Length, DateTime WrittenUtc)? _logSeen;
    private (long Micros, string PairId)? _last;
    private long _rows;
    private int _nextFileId;

    private ReviewQuery(DuckDBConnection connection, string folder, ReviewLog log)
    {
        _connection = connection;
        _folder = folder;
        _log = log;
    }

    /// <summary>The bytes the text search holds in managed memory (the lower-cased texts and separators; docs/adr/0041).</summary>
    public long SearchBytes
    {
        get
        {
            lock (_gate) return _text.Bytes;
        }
    }

    /// <summary>The files that could not be read, with DuckDB's reason; empty when every file is in the index.</summary>
    public IReadOnlyList<UnreadableDatasetFile> Unreadable
    {
        get
        {
            lock (_gate) return [.. _unreadable.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new UnreadableDatasetFile(kv.Key, kv.Value.Reason))];
        }
    }

    /// <summary>Opens the app's pair files and review log as they are now (reads every file: seconds for a million pairs).</summary>
    public static async Task<ReviewQuery> OpenAsync(string dataRoot, string appId, CancellationToken cancellationToken = default)
    {
        var folder = DatasetPaths.Folder(dataRoot, appId, DatasetKinds.PreferencePairs);
        var connection = new DuckDBConnection("Data Source=:memory:");
        ReviewQuery? query = null;
        try
        {
            connection.Open();
            Execute(connection, "CREATE TABLE decisions (item VARCHAR PRIMARY KEY, action VARCHAR NOT NULL)");
            Execute(connection, """
                CREATE TABLE staging (file INTEGER, pair_id VARCHAR, signal VARCHAR, weight DOUBLE, chosen_model_version VARCHAR,
                    rejected_model_version VARCHAR, created_us BIGINT, prompt_text VARCHAR, prompt_last VARCHAR, chosen_text VARCHAR,
                    rejected_text VARCHAR)
                """);
            // The row numbers a text search matched, for the one query that combines them with the other filters.
            Execute(connection, "CREATE TABLE text_hits (seq BIGINT NOT NULL)");
            Execute(connection, "CREATE TABLE pairs AS SELECT 0::BIGINT AS seq, * FROM staging LIMIT 0");
            query = new ReviewQuery(connection, folder, new ReviewLog(dataRoot, appId));
            await query.RefreshAsync(cancellationToken).ConfigureAwait(false);
            return query;
        }
        catch
        {
            if (query is not null) query.Dispose();
            else connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes in what changed since the last look: dataset files added (or changed) and the review log. Cheap when nothing
    /// changed (a folder listing and one file's length), so the app calls it before every list.
    /// </summary>
    public async Task<ReviewRefresh> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var decisions = await ReadLogIfChangedAsync(cancellationToken).ConfigureAwait(false);
            // A file removed between the listing and its length (retention, by hand) is simply not there.
            var present = DatasetPaths.Files(_folder)
                .Select(f => (Path: f, Info: new FileInfo(f))).Where(f => f.Info.Exists).Select(f => new DatasetFile(f.Path, f.Info.Length)).ToList();
            lock (_gate)
            {
                if (decisions is not null) LoadDecisions(decisions);
                // An unreadable file that was removed is no longer a problem to report.
                foreach (var path in _unreadable.Keys.Where(p => !present.Exists(f => f.Path == p)).ToList()) _unreadable.Remove(path);
                var change = ReviewIndexPlan.Compare(_indexed, _unreadable.ToDictionary(kv => kv.Key, kv => kv.Value.Length, StringComparer.Ordinal), present);
                var read = new List<string>();
                foreach (var file in change.ToRead)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (Stage(file)) read.Add(file.Path);
                }

                var step = ReviewIndexPlan.Step(change.Gone.Count > 0, _last, FirstStaged());
                Merge(step, change.Gone);
                foreach (var file in change.ToRead.Where(f => read.Contains(f.Path)))
                {
                    _indexed[file.Path] = file.Length;
                    _unreadable.Remove(file.Path);
                }

                return new ReviewRefresh(read, [.. _unreadable.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new UnreadableDatasetFile(kv.Key, kv.Value.Reason))], step);
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>How many pairs match.</summary>
    public long Count(ReviewFilter filter)
    {
        lock (_gate)
        {
            _search = null;
            return CountLocked(filter);
        }
    }

    /// <summary>
    /// What a list page shows, in one call: how many pairs match, and page <paramref name="pageNumber"/> of them (clamped to
    /// the pages there are). One call searches the texts once for both (docs/adr/0041).
    /// </summary>
    public ReviewListing Listing(ReviewFilter filter, int pageSize, int pageNumber, ReviewOrder order = ReviewOrder.NewestFirst)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        lock (_gate)
        {
            _search = null;
            var matching = CountLocked(filter);
            var pages = (int)Math.Min(int.MaxValue, Math.Max(1, (matching + pageSize - 1) / pageSize));
            var number = Math.Clamp(pageNumber, 1, pages);
            return new ReviewListing(matching, number, pages, JumpLocked(filter, pageSize, (long)(number - 1) * pageSize, order));
        }
    }

    /// <summary>How many pairs match, per signal.</summary>
    public IReadOnlyDictionary<string, long> CountBySignal(ReviewFilter filter)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        lock (_gate)
        {
            _search = null;
            if (_rows == 0) return counts;
            using var command = Command("SELECT signal, count(*) FROM pairs", filter, after: null, ReviewOrder.OldestFirst, tail: " GROUP BY signal");
            using var reader = command.ExecuteReader();
            while (reader.Read()) counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>The page of up to <paramref name="pageSize"/> matching pairs after <paramref name="after"/> (a page's <see cref="ReviewPage.Next"/>; null: the first).</summary>
    /// <exception cref="ArgumentException">The cursor is not one this component wrote.</exception>
    public ReviewPage List(ReviewFilter filter, int pageSize, string? after = null, ReviewOrder order = ReviewOrder.OldestFirst)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        var cursor = Cursor.Parse(after);
        lock (_gate)
        {
            _search = null;
            return ListLocked(filter, pageSize, cursor, order);
        }
    }

    /// <summary>
    /// The page that starts after the first <paramref name="skip"/> matching rows (page n of size s: skip = (n − 1)·s), for a
    /// jump to a page: the row before it is found once (by its number when nothing is filtered, by offset otherwise), then
    /// the page is a keyset page like any other. Empty when there are not that many rows.
    /// </summary>
    public ReviewPage JumpTo(ReviewFilter filter, int pageSize, long skip, ReviewOrder order = ReviewOrder.OldestFirst)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        lock (_gate)
        {
            _search = null;
            return JumpLocked(filter, pageSize, skip, order);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _connection.Dispose();
        _refreshing.Dispose();
    }

    private long CountLocked(ReviewFilter filter)
    {
        if (_rows == 0) return 0;
        if (TextOnly(filter)) return Matches(filter.Text!).Count;
        using var command = Command("SELECT count(*) FROM pairs", filter, after: null, ReviewOrder.OldestFirst);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private ReviewPage JumpLocked(ReviewFilter filter, int pageSize, long skip, ReviewOrder order)
    {
        if (skip == 0 || _rows == 0) return ListLocked(filter, pageSize, null, order);
        if (TextOnly(filter))
        {
            // The matches are row numbers in list order: the page is a slice of them.
            var matches = Matches(filter.Text!);
            return skip >= matches.Count ? new ReviewPage([], null) : PageOf(Slice(matches, skip, pageSize + 1, order), pageSize, order);
        }

        DuckDBCommand command;
        if (filter == new ReviewFilter())
        {
            // Nothing filtered: the rows are numbered in list order, so the anchor is one row looked up by number.
            if (skip > _rows) return new ReviewPage([], null);
            command = _connection.CreateCommand();
            command.CommandText = "SELECT created_us, pair_id FROM pairs WHERE seq = $seq";
            command.Parameters.Add(new DuckDBParameter("seq", order == ReviewOrder.OldestFirst ? skip - 1 : _rows - skip));
        }
        else
        {
            command = Command("SELECT created_us, pair_id FROM pairs", filter, after: null, order,
                tail: " ORDER BY seq" + Direction(order) + " LIMIT 1 OFFSET " + (skip - 1).ToString(CultureInfo.InvariantCulture));
        }

        Cursor? anchor;
        using (command)
        using (var reader = command.ExecuteReader())
        {
            anchor = reader.Read() ? new Cursor(reader.GetInt64(0), reader.GetString(1)) : null;
        }

        return anchor is null ? new ReviewPage([], null) : ListLocked(filter, pageSize, anchor, order);
    }

    private ReviewPage ListLocked(ReviewFilter filter, int pageSize, Cursor? after, ReviewOrder order)
    {
        if (_rows == 0) return new ReviewPage([], null);

        // First the page's row numbers (sort keys and filter columns only), then the texts of those rows alone.
        if (TextOnly(filter) && after is null) return PageOf(Slice(Matches(filter.Text!), 0, pageSize + 1, order), pageSize, order);
        var seqs = new List<long>(pageSize + 1);
        using (var command = Command("SELECT seq FROM pairs", filter, after, order,
                   tail: " ORDER BY seq" + Direction(order) + " LIMIT " + (pageSize + 1).ToString(CultureInfo.InvariantCulture)))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) seqs.Add(reader.GetInt64(0));
        }

        return PageOf(seqs, pageSize, order);
    }

    /// <summary>The rows numbered <paramref name="seqs"/> (in list order; one more than a page says there is a next page), texts and all.</summary>
    private ReviewPage PageOf(List<long> seqs, int pageSize, ReviewOrder order)
    {
        if (seqs.Count == 0) return new ReviewPage([], null);
        var more = seqs.Count > pageSize;
        if (more) seqs.RemoveAt(pageSize);
        var rows = new List<ReviewRow>(seqs.Count);
        // Rows far apart (a search's matches) are fetched one row group's range at a time, each range by its own small query:
        // one range from the first to the last would make DuckDB read the texts of every row group in between.
        var ranges = ReviewTextIndex.Ranges(seqs, RowGroupRows);
        if (order == ReviewOrder.NewestFirst) ranges.Reverse();
        foreach (var range in ranges)
        {
            using var command = _connection.CreateCommand();
            // The numbers are ours (read above), written as literals so DuckDB sees a constant range to skip row groups by.
            command.CommandText = string.Create(CultureInfo.InvariantCulture, $"""
                SELECT pair_id, signal, weight, chosen_model_version, rejected_model_version, created_us, prompt_text, chosen_text, rejected_text, prompt_last
                FROM pairs WHERE seq BETWEEN {range[0]} AND {range[^1]} AND seq IN ({string.Join(", ", range.Select(s => s.ToString(CultureInfo.InvariantCulture)))})
                ORDER BY seq{Direction(order)}
                """);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var pairId = reader.GetString(0);
                var state = _latest.GetValueOrDefault(pairId) ?? ReviewState.Unreviewed;
                rows.Add(new ReviewRow(
                    pairId, reader.GetString(1), reader.GetDouble(2), reader.GetString(3), reader.GetString(4),
                    DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(5) * 10), reader.GetString(6), reader.GetString(7), reader.GetString(8),
                    state.Action, state.Reason, reader.GetString(9)));
            }
        }

        return new ReviewPage(rows, more ? Cursor.Of(rows[^1]) : null);
    }

    private async Task<IReadOnlyList<ReviewDecision>?> ReadLogIfChangedAsync(CancellationToken cancellationToken)
    {
        // The log is append-only, so its length and write time tell whether there is anything new to read.
        var info = new FileInfo(_log.FilePath);
        (long, DateTime)? seen = info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
        if (seen == _logSeen && _logSeen is not null) return null;
        var decisions = await _log.ReadAsync(cancellationToken).ConfigureAwait(false);
        _logSeen = seen;
        return decisions;
    }

    private void LoadDecisions(IReadOnlyList<ReviewDecision> log)
    {
        var latest = new Dictionary<string, ReviewState>(StringComparer.Ordinal);
        foreach (var d in log)
        {
            if (d.Kind == ReviewItemKinds.Pair) latest[d.Item] = d.After;
        }

        Execute(_connection, "DELETE FROM decisions");
        using (var appender = _connection.CreateAppender("decisions"))
        {
            foreach (var (item, state) in latest) appender.CreateRow().AppendValue(item).AppendValue(state.Action).EndRow();
        }

        _latest = latest;
    }

    /// <summary>Reads one file into the staging table; false (and the file reported) when DuckDB cannot read it.</summary>
    private bool Stage(DatasetFile file)
    {
        if (!_fileIds.TryGetValue(file.Path, out var id)) _fileIds[file.Path] = id = _nextFileId++;
        // Paths are ours (the data folder and content-derived file names), quoted as SQL strings all the same.
        var path = "'" + file.Path.Replace("'", "''", StringComparison.Ordinal) + "'";
        try
        {
            Execute(_connection, string.Create(CultureInfo.InvariantCulture, $"""
                INSERT INTO staging ({Columns})
                SELECT {id}, pair_id, signal, weight, chosen_model_version, rejected_model_version, created_us, prompt_text, prompt_last, chosen_text,
                       rejected_text
                FROM (SELECT p.pair_id, p.signal, p.weight, p.chosen_model_version, p.rejected_model_version, epoch_us(p.created_at) AS created_us,
                             array_to_string(list_transform(p.prompt, m -> m.content), chr(10)) AS prompt_text,
                             coalesce(struct_extract(list_extract(p.prompt, -1), 'content'), '') AS prompt_last,
                             array_to_string(list_transform(p.chosen, m -> m.content), chr(10)) AS chosen_text,
                             array_to_string(list_transform(p.rejected, m -> m.content), chr(10)) AS rejected_text
                      FROM read_parquet({path}) p)
                """));
            return true;
        }
        catch (DuckDBException e)
        {
            // Rows of a half-read file must not stay behind.
            Execute(_connection, string.Create(CultureInfo.InvariantCulture, $"DELETE FROM staging WHERE file = {id}"));
            _unreadable[file.Path] = (file.Length, e.Message);
            return false;
        }
    }

    private (long Micros, string PairId)? FirstStaged()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT created_us, pair_id FROM staging ORDER BY created_us, pair_id LIMIT 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetString(1)) : null;
    }

    private void Merge(ReviewIndexStep step, IReadOnlyList<string> gone)
    {
        long textFrom = 0;
        switch (step)
        {
            case ReviewIndexStep.Append:
                Execute(_connection, string.Create(CultureInfo.InvariantCulture, $"""
                    INSERT INTO pairs SELECT * FROM (
                        SELECT {_rows} + row_number() OVER (ORDER BY created_us, pair_id) - 1 AS seq, {Columns} FROM staging) ORDER BY seq
                    """));
                textFrom = _rows;
                break;
            case ReviewIndexStep.Rebuild:
                var goneIds = gone.Select(g => _fileIds[g].ToString(CultureInfo.InvariantCulture)).ToList();
                var keep = goneIds.Count == 0 ? "" : " WHERE file NOT IN (" + string.Join(", ", goneIds) + ")";
                // Inserted in seq order, so each row group's min/max of seq and created_us are narrow ranges.
                Execute(_connection, $"""
                    CREATE OR REPLACE TABLE pairs AS SELECT * FROM (
                        SELECT row_number() OVER (ORDER BY created_us, pair_id) - 1 AS seq, {Columns}
                        FROM (SELECT {Columns} FROM pairs{keep} UNION ALL SELECT {Columns} FROM staging)) ORDER BY seq
                    """);
                foreach (var g in gone) _indexed.Remove(g);
                _text.Clear();
                break;
            default:
                return;
        }

        Execute(_connection, "DELETE FROM staging");
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT count(*), max(seq) FROM pairs";
        using var reader = command.ExecuteReader();
        reader.Read();
        _rows = reader.GetInt64(0);
        _last = null;
        if (_rows > 0)
        {
            using var last = _connection.CreateCommand();
            last.CommandText = "SELECT created_us, pair_id FROM pairs WHERE seq = $seq";
            last.Parameters.Add(new DuckDBParameter("seq", reader.GetInt64(1)));
            using var row = last.ExecuteReader();
            if (row.Read()) _last = (row.GetInt64(0), row.GetString(1));
        }

        IndexTexts(textFrom);
    }

    /// <summary>Copies the lower-cased texts of rows numbered from <paramref name="from"/> on into the text index, in row order.</summary>
    private void IndexTexts(long from)
    {
        if (_text.Rows != from) throw new InvalidOperationException($"the text index holds {_text.Rows} rows, expected {from}");
        using var command = _connection.CreateCommand();
        // lower() as before this index existed (docs/adr/0041): the same case folding of the texts; encode() hands the
        // UTF-8 bytes over as they are, without a round trip through .NET strings.
        command.CommandText = string.Create(CultureInfo.InvariantCulture, $"""
            SELECT seq, encode(lower(prompt_text)), encode(lower(chosen_text)), encode(lower(rejected_text)) FROM pairs WHERE seq >= {from} ORDER BY seq
            """);
        using var reader = command.ExecuteReader();
        var buffers = new byte[3][];
        for (var i = 0; i < buffers.Length; i++) buffers[i] = new byte[4096];
        while (reader.Read())
        {
            var seq = reader.GetInt64(0);
            if (seq != _text.Rows) throw new InvalidOperationException($"the index returned row {seq} where row {_text.Rows} was expected");
            var lengths = new int[3];
            for (var i = 0; i < 3; i++) lengths[i] = ReadBlob(reader, i + 1, ref buffers[i]);
            _text.Add(buffers[0].AsSpan(0, lengths[0]), buffers[1].AsSpan(0, lengths[1]), buffers[2].AsSpan(0, lengths[2]));
        }

        _search = null;
        if (_text.Rows != _rows) throw new InvalidOperationException($"the text index holds {_text.Rows} rows, the table {_rows}");
    }

    private static int ReadBlob(DuckDBDataReader reader, int ordinal, ref byte[] buffer)
    {
        using var stream = reader.GetStream(ordinal);
        var length = checked((int)stream.Length);
        if (buffer.Length < length) buffer = new byte[Math.Max(length, buffer.Length * 2)];
        stream.ReadExactly(buffer, 0, length);
        return length;
    }

    /// <summary>Whether the filter is a text search and nothing else: its rows are then the text index's matches themselves.</summary>
    private static bool TextOnly(ReviewFilter filter) => !string.IsNullOrEmpty(filter.Text) && filter with { Text = null } == new ReviewFilter();

    /// <summary>Up to <paramref name="count"/> of the matches after the first <paramref name="skip"/>, in list order.</summary>
    private static List<long> Slice(List<long> matches, long skip, int count, ReviewOrder order)
    {
        var slice = new List<long>(count);
        for (var i = skip; i < matches.Count && slice.Count < count; i++) slice.Add(matches[(int)(order == ReviewOrder.OldestFirst ? i : matches.Count - 1 - i)]);
        return slice;
    }

    /// <summary>
    /// The row numbers, ascending, whose texts contain <paramref name="text"/> (case-insensitive, literal): searched once per
    /// public call (a jump finds its anchor and its page with one search), never kept across calls.
    /// </summary>
    private List<long> Matches(string text)
    {
        var lowered = text.ToLowerInvariant();
        if (_search is not { } search || search.Lowered != lowered) _search = search = new Search(lowered, _text.Find(lowered));
        return search.Rows;
    }

    /// <summary>
    /// The condition on <c>seq</c> that keeps a search's matches, for a query that also has other conditions: the matches go
    /// into <c>text_hits</c> (once per call) and their range lets DuckDB skip row groups outside it.
    /// </summary>
    private string MatchCondition(string text)
    {
        var matches = Matches(text);
        if (matches.Count == 0) return "FALSE";
        if (!_search!.InTable)
        {
            // A new table rather than a DELETE: deleted rows would stay behind in an in-memory table and be read again.
            Execute(_connection, "CREATE OR REPLACE TABLE text_hits (seq BIGINT NOT NULL)");
            using (var appender = _connection.CreateAppender("text_hits"))
            {
                foreach (var seq in matches) appender.CreateRow().AppendValue(seq).EndRow();
            }

            _search.InTable = true;
        }

        return string.Create(CultureInfo.InvariantCulture, $"seq BETWEEN {matches[0]} AND {matches[^1]} AND seq IN (SELECT seq FROM text_hits)");
    }

    private static string Direction(ReviewOrder order) => order == ReviewOrder.OldestFirst ? "" : " DESC";

    private DuckDBCommand Command(string select, ReviewFilter filter, Cursor? after, ReviewOrder order, string tail = "")
    {
        ArgumentNullException.ThrowIfNull(filter);
        var command = _connection.CreateCommand();
        var where = new List<string>();
        void Add(string condition, string name, object value)
        {
            where.Add(condition);
            command.Parameters.Add(new DuckDBParameter(name, value));
        }

        // Raw columns compared with constants, so DuckDB can skip row groups by their min/max.
        if (filter.Signal is { } signal) Add("signal = $signal", "signal", signal);
        if (filter.ModelVersion is { } version) Add("(chosen_model_version = $version OR rejected_model_version = $version)", "version", version);
        if (filter.From is { } from) Add("created_us >= $from", "from", MicrosOf(from));
        if (filter.To is { } to) Add("created_us < $to", "to", MicrosOf(to));
        if (filter.ReviewAction is ReviewActions.None) where.Add("pair_id NOT IN (SELECT item FROM decisions)");
        else if (filter.ReviewAction is { } action) Add("pair_id IN (SELECT item FROM decisions WHERE action = $action)", "action", action);
        if (!string.IsNullOrEmpty(filter.Text))
        {
            // A literal search (% and _ mean themselves) of the lower-cased texts, done by the text index (docs/adr/0041); its
            // row numbers join the other conditions, and their range lets DuckDB skip row groups outside it.
            where.Add(MatchCondition(filter.Text));
        }

        if (after is { } cursor)
        {
            // The first condition alone is a range on created_us (row groups skipped); the second breaks ties by id.
            where.Add(order == ReviewOrder.OldestFirst
                ? "created_us >= $after_us AND (created_us > $after_us OR pair_id > $after_id)"
                : "created_us <= $after_us AND (created_us < $after_us OR pair_id < $after_id)");
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

    /// <summary>A search's matches within one public call, and whether <c>text_hits</c> holds them.</summary>
    private sealed class Search(string lowered, List<long> rows)
    {
        public string Lowered { get; } = lowered;

        public List<long> Rows { get; } = rows;

        public bool InTable { get; set; }
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
