using System.Text;

namespace FeedbackLoop.Datasets.Review;

/// <summary>
/// The lower-cased texts of the review index's rows, in row-number (<c>seq</c>) order, as UTF-8 bytes in a few large
/// arrays, searched with a vectorised byte search (docs/adr/0041). Each row holds its prompt, chosen and rejected texts,
/// each followed by the byte 0xFF, which never occurs in UTF-8: a needle can therefore never match across two texts or two
/// rows, exactly as a search of each text on its own. Not thread-safe (<see cref="ReviewQuery"/> holds its lock).
/// </summary>
/// <param name="segmentBytes">The most bytes one array grows to before the next starts (a row larger than this gets an
/// array of its own); small in tests so rows cross arrays.</param>
public sealed class ReviewTextIndex(int segmentBytes = ReviewTextIndex.DefaultSegmentBytes)
{
    /// <summary>The byte written after each text: not valid anywhere in UTF-8, so no encoded needle contains it.</summary>
    public const byte Separator = 0xFF;

    /// <summary>64 MiB arrays: large enough that a search is a few long scans, small enough to grow without doubling copies of everything.</summary>
    public const int DefaultSegmentBytes = 64 << 20;

    private readonly List<Segment> _segments = [];

    /// <summary>The rows held; the next row added gets this number.</summary>
    public long Rows { get; private set; }

    /// <summary>The bytes held (texts and separators), for memory reporting.</summary>
    public long Bytes => _segments.Sum(s => (long)s.Used);

    /// <summary>Forgets every row (before the rows are numbered again).</summary>
    public void Clear()
    {
        _segments.Clear();
        Rows = 0;
    }

    /// <summary>Adds the next row's lower-cased texts (UTF-8).</summary>
    public void Add(ReadOnlySpan<byte> prompt, ReadOnlySpan<byte> chosen, ReadOnlySpan<byte> rejected)
    {
        var length = prompt.Length + chosen.Length + rejected.Length + 3;
        var segment = _segments.Count > 0 ? _segments[^1] : null;
        if (segment is null || !segment.Fits(length))
        {
            segment = new Segment(Rows, length, segmentBytes);
            _segments.Add(segment);
        }

        segment.Add(prompt, chosen, rejected);
        Rows++;
    }

    /// <summary>The row numbers, ascending, whose prompt, chosen or rejected text contains <paramref name="lowered"/> (already lower-cased).</summary>
    public List<long> Find(string lowered)
    {
        ArgumentException.ThrowIfNullOrEmpty(lowered);
        var needle = Encoding.UTF8.GetBytes(lowered);
        var found = new List<long>();
        foreach (var segment in _segments) segment.Find(needle, found);
        return found;
    }

    /// <summary>
    /// Splits row numbers (in any order) into ascending runs, each spanning fewer than <paramref name="span"/> numbers, so a
    /// query can fetch each run by a narrow range.
    /// </summary>
    public static List<List<long>> Ranges(IEnumerable<long> rows, int span)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(span, 1);
        var ranges = new List<List<long>>();
        foreach (var row in rows.Order())
        {
            if (ranges.Count == 0 || row - ranges[^1][0] >= span) ranges.Add([]);
            ranges[^1].Add(row);
        }

        return ranges;
    }

    /// <summary>Consecutive rows' texts in one array; row i's bytes start at <c>_starts[i]</c>.</summary>
    private sealed class Segment(long firstRow, int firstLength, int limit)
    {
        private byte[] _bytes = new byte[Math.Max(firstLength, Math.Min(limit, 1 << 16))];
        private int[] _starts = new int[1024];
        private int _rows;

        public int Used { get; private set; }

        /// <summary>Whether a row of this many bytes still goes here (an empty segment takes any row).</summary>
        public bool Fits(int length) => _rows == 0 || (long)Used + length <= limit;

        public void Add(ReadOnlySpan<byte> prompt, ReadOnlySpan<byte> chosen, ReadOnlySpan<byte> rejected)
        {
            var length = prompt.Length + chosen.Length + rejected.Length + 3;
            if (Used + length > _bytes.Length) Array.Resize(ref _bytes, (int)Math.Min(Array.MaxLength, Math.Max((long)Used + length, Math.Min(limit, 2L * _bytes.Length))));
            if (_rows == _starts.Length) Array.Resize(ref _starts, _starts.Length * 2);
            _starts[_rows++] = Used;
            Append(prompt);
            Append(chosen);
            Append(rejected);
        }

        private void Append(ReadOnlySpan<byte> text)
        {
            text.CopyTo(_bytes.AsSpan(Used));
            Used += text.Length;
            _bytes[Used++] = Separator;
        }

        public void Find(byte[] needle, List<long> found)
        {
            var bytes = _bytes.AsSpan(0, Used);
            var position = 0;
            while (position < bytes.Length)
            {
                var at = bytes[position..].IndexOf(needle);
                if (at < 0) return;
                // The row the match lies in; the search goes on from the next row, so each row is found once.
                var row = Array.BinarySearch(_starts, 0, _rows, position + at);
                if (row < 0) row = ~row - 1;
                found.Add(firstRow + row);
                position = row + 1 < _rows ? _starts[row + 1] : bytes.Length;
            }
        }
    }
}
