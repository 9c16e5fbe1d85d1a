using System.Buffers;

namespace FeedbackLoop.Core.Extraction;

/// <summary>Character-level Levenshtein distance, normalized by the longer string's length.</summary>
public static class EditDistance
{
    /// <summary>0 for equal strings, 1 for completely different ones of equal length.</summary>
    public static double Normalized(string a, string b)
    {
        var longest = Math.Max(a.Length, b.Length);
        return longest == 0 ? 0 : (double)Levenshtein(a, b) / longest;
    }

    /// <summary>
    /// The normalized distance when it is at most <paramref name="max"/>, else null, found without measuring more than
    /// that: the Levenshtein distance is computed only up to ⌈max × longer length⌉ (see <see cref="LevenshteinWithin"/>).
    /// A non-null result equals <see cref="Normalized"/> exactly, so a band check on it decides as one on the full value.
    /// </summary>
    public static double? NormalizedWithin(string a, string b, double max)
    {
        var longest = Math.Max(a.Length, b.Length);
        if (longest == 0) return 0;
        if (double.IsNaN(max) || max < 0) return null;
        // Rounded up, so every distance whose ratio can pass the caller's comparison is measured; that comparison
        // is then made on the exact ratio.
        var limit = (int)Math.Min(longest, Math.Ceiling(max * longest));
        if (LevenshteinWithin(a, b, limit) is not { } distance) return null;
        var normalized = (double)distance / longest;
        return normalized <= max ? normalized : null;
    }

    /// <summary>
    /// The Levenshtein distance when it is at most <paramref name="limit"/>, else null, stopping as soon as the distance
    /// must exceed the limit. After trimming the common prefix and suffix (and answering from the length difference
    /// where it already exceeds the limit), it runs the cheaper of two exact methods: Ukkonen's band (O(n·limit): only
    /// cells within the limit of the diagonal can lie on a path that cheap) when the limit is small, else Myers'
    /// bit-parallel algorithm (O(n·m/64), 64 cells per machine word), which stops once the distance reached so far
    /// cannot come back under the limit in the characters left.
    /// </summary>
    public static int? LevenshteinWithin(string a, string b, int limit)
    {
        if (limit < 0) return null;
        var sa = a.AsSpan();
        var sb = b.AsSpan();
        TrimCommonEnds(ref sa, ref sb);
        // The distance is at least the length difference and at most the longer length.
        if (sa.Length - sb.Length > limit) return null;
        if (sb.Length == 0) return sa.Length;

        var blocks = (sb.Length + 63) / 64;
        // A word step costs about as much as four cells of the band; the bit table is bounded (8 MiB) for texts far
        // past the default edit-text limit.
        var bandCells = (long)Math.Min(sb.Length, 2L * limit + 1);
        if (bandCells <= 4L * blocks) return WithinBand(sa, sb, limit);
        var ids = new CharIds(stackalloc int[CharIds.TableSize], sb);
        return (long)ids.Count * blocks > MaxBitTableWords ? WithinBand(sa, sb, limit) : WithinBitParallel(sa, sb, limit, ids);
    }

    private const long MaxBitTableWords = 1 << 20;

    /// <summary>Ukkonen's band over <paramref name="longer"/> × <paramref name="shorter"/>; null once every cell of a row is over the limit.</summary>
    private static int? WithinBand(ReadOnlySpan<char> longer, ReadOnlySpan<char> shorter, int limit)
    {
        // Cells off the band hold "over" (limit + 1); keeping values capped there also rules out overflow.
        var over = limit + 1;
        var rented = ArrayPool<int>.Shared.Rent(shorter.Length + 1);
        try
        {
            var row = rented.AsSpan(0, shorter.Length + 1);
            for (var j = 0; j <= shorter.Length; j++) row[j] = Math.Min(j, over);
            for (var i = 1; i <= longer.Length; i++)
            {
                var from = Math.Max(1, i - limit);
                var to = Math.Min(shorter.Length, i + limit);
                // Row i, column from − 1: the border (i) in column 0, else just off the band.
                var diagonal = row[from - 1];
                var left = from == 1 ? Math.Min(i, over) : over;
                row[from - 1] = left;
                var best = left;
                var ca = longer[i - 1];
                for (var j = from; j <= to; j++)
                {
                    // Row i − 1 wrote columns up to i − 1 + limit; column i + limit still holds "over" from the start.
                    var above = row[j];
                    var cost = ca == shorter[j - 1] ? 0 : 1;
                    var value = Math.Min(Math.Min(above + 1, left + 1), Math.Min(diagonal + cost, over));
                    row[j] = value;
                    diagonal = above;
                    left = value;
                    if (value < best) best = value;
                }
                // The best cell of a row never improves further down, so no path can come back under the limit.
                if (best > limit) return null;
            }
            return row[shorter.Length] <= limit ? row[shorter.Length] : null;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Myers' bit-vector algorithm in Hyyrö's multi-block form for the global distance: the columns of the DP matrix
    /// over <paramref name="shorter"/> are kept as vertical +1/−1 deltas, 64 rows per word, and one character of
    /// <paramref name="longer"/> updates a whole column in a few word operations per block.
    /// </summary>
    private static int? WithinBitParallel(ReadOnlySpan<char> longer, ReadOnlySpan<char> shorter, int limit, CharIds ids)
    {
        var m = shorter.Length;
        var blocks = (m + 63) / 64;
        var peqRented = ArrayPool<ulong>.Shared.Rent(ids.Count * blocks);
        var pvRented = ArrayPool<ulong>.Shared.Rent(blocks);
        var mvRented = ArrayPool<ulong>.Shared.Rent(blocks);
        try
        {
            // peq[id·blocks + b]: bit k set where shorter[64b + k] is the character with that id.
            var peq = peqRented.AsSpan(0, ids.Count * blocks);
            peq.Clear();
            for (var i = 0; i < m; i++) peq[ids.Of(shorter[i]) * blocks + (i >> 6)] |= 1UL << (i & 63);
            // Column 0 is 0, 1, 2, …: every vertical delta +1.
            var pv = pvRented.AsSpan(0, blocks);
            var mv = mvRented.AsSpan(0, blocks);
            pv.Fill(ulong.MaxValue);
            mv.Clear();
            var lastRow = 1UL << ((m - 1) & 63);
            var score = m;
            for (var j = 0; j < longer.Length; j++)
            {
                var id = ids.Of(longer[j]);
                // Row 0 is 0, 1, 2, …: the horizontal delta entering the first block is +1.
                var carry = 1;
                for (var b = 0; b < blocks; b++)
                {
                    var eq = id < 0 ? 0UL : peq[id * blocks + b];
                    var pvb = pv[b];
                    var mvb = mv[b];
                    var xv = eq | mvb;
                    if (carry < 0) eq |= 1UL;
                    var xh = (((eq & pvb) + pvb) ^ pvb) | eq;
                    var ph = mvb | ~(xh | pvb);
                    var mh = pvb & xh;
                    var top = b == blocks - 1 ? lastRow : 1UL << 63;
                    var carryOut = (ph & top) != 0 ? 1 : (mh & top) != 0 ? -1 : 0;
                    ph <<= 1;
                    mh <<= 1;
                    if (carry < 0) mh |= 1UL;
                    else if (carry > 0) ph |= 1UL;
                    pv[b] = mh | ~(xv | ph);
                    mv[b] = ph & xv;
                    carry = carryOut;
                }
                // The last block's carry is the horizontal delta on the last row: the distance so far moves by it.
                score += carry;
                // Each remaining character can lower the distance by one at most.
                if (score - (longer.Length - 1 - j) > limit) return null;
            }
            return score <= limit ? score : null;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(peqRented);
            ArrayPool<ulong>.Shared.Return(pvRented);
            ArrayPool<ulong>.Shared.Return(mvRented);
        }
    }

    /// <summary>
    /// Dense ids (0, 1, …, in order of first appearance) of the distinct UTF-16 units of a text, as rows of the bit table.
    /// Units below <see cref="TableSize"/>, which most texts are made of, are looked up in a table on the caller's
    /// stack; only the others need a dictionary, so the usual edit allocates nothing here.
    /// </summary>
    private ref struct CharIds
    {
        public const int TableSize = 128;
        private readonly Span<int> _table; // id + 1; 0: not in the text
        private readonly Dictionary<char, int>? _others;

        public CharIds(Span<int> table, ReadOnlySpan<char> text)
        {
            _table = table;
            _table.Clear();
            foreach (var c in text)
            {
                if (c < TableSize)
                {
                    if (_table[c] == 0) _table[c] = ++Count;
                }
                else if ((_others ??= []).TryAdd(c, Count))
                {
                    Count++;
                }
            }
        }

        public int Count { get; private set; }

        /// <summary>The unit's id, or −1 when the text does not hold it.</summary>
        public readonly int Of(char c) =>
            c < TableSize ? _table[c] - 1 : _others is not null && _others.TryGetValue(c, out var id) ? id : -1;
    }

    /// <summary>
    /// Drops the common prefix and suffix (they cost nothing) and puts the longer of the rest first: the shape both
    /// distance methods start from.
    /// </summary>
    private static void TrimCommonEnds(ref ReadOnlySpan<char> sa, ref ReadOnlySpan<char> sb)
    {
        var prefix = sa.CommonPrefixLength(sb);
        sa = sa[prefix..];
        sb = sb[prefix..];
        var suffix = 0;
        while (suffix < sa.Length && suffix < sb.Length && sa[sa.Length - 1 - suffix] == sb[sb.Length - 1 - suffix]) suffix++;
        sa = sa[..^suffix];
        sb = sb[..^suffix];
        if (sa.Length < sb.Length)
        {
            var t = sa;
            sa = sb;
            sb = t;
        }
    }

    /// <summary>
    /// Two-row dynamic programme, O(|a|·|b|) time and O(min) memory. Events are capped at 32 KiB, so the
    /// worst case is bounded (a few hundred ms for two 16 KiB texts); common prefixes and suffixes are
    /// trimmed first, which makes typical edits cheap.
    /// </summary>
    public static int Levenshtein(string a, string b)
    {
        var sa = a.AsSpan();
        var sb = b.AsSpan();
        TrimCommonEnds(ref sa, ref sb);
        if (sb.Length == 0) return sa.Length;

        var rented = ArrayPool<int>.Shared.Rent(sb.Length + 1);
        try
        {
            var row = rented.AsSpan(0, sb.Length + 1);
            for (var j = 0; j <= sb.Length; j++) row[j] = j;
            for (var i = 1; i <= sa.Length; i++)
            {
                var diagonal = row[0];
                row[0] = i;
                var ca = sa[i - 1];
                for (var j = 1; j <= sb.Length; j++)
                {
                    var above = row[j];
                    var cost = ca == sb[j - 1] ? 0 : 1;
                    row[j] = Math.Min(Math.Min(above + 1, row[j - 1] + 1), diagonal + cost);
                    diagonal = above;
                }
            }
            return row[sb.Length];
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }
}
