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
    /// The Levenshtein distance when it is at most <paramref name="limit"/>, else null. Ukkonen's band: only cells
    /// within <paramref name="limit"/> of the diagonal can lie on a path that cheap, so a row costs at most
    /// 2·limit + 1 cells, and the walk stops at the first row whose every cell is over the limit (distances along a
    /// row's best cell never decrease). O(n·limit) time and O(min) memory instead of O(n·m); the length difference
    /// alone answers many cases at once.
    /// </summary>
    public static int? LevenshteinWithin(string a, string b, int limit)
    {
        if (limit < 0) return null;
        var sa = a.AsSpan();
        var sb = b.AsSpan();
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
        // The distance is at least the length difference and at most the longer length.
        if (sa.Length - sb.Length > limit) return null;
        if (sb.Length == 0) return sa.Length;

        // Cells off the band hold "over" (limit + 1); keeping values capped there also rules out overflow.
        var over = limit + 1;
        var rented = ArrayPool<int>.Shared.Rent(sb.Length + 1);
        try
        {
            var row = rented.AsSpan(0, sb.Length + 1);
            for (var j = 0; j <= sb.Length; j++) row[j] = Math.Min(j, over);
            for (var i = 1; i <= sa.Length; i++)
            {
                var from = Math.Max(1, i - limit);
                var to = Math.Min(sb.Length, i + limit);
                // Row i, column from − 1: the border (i) in column 0, else just off the band.
                var diagonal = row[from - 1];
                var left = from == 1 ? Math.Min(i, over) : over;
                row[from - 1] = left;
                var best = left;
                var ca = sa[i - 1];
                for (var j = from; j <= to; j++)
                {
                    // Row i − 1 wrote columns up to i − 1 + limit; column i + limit still holds "over" from the start.
                    var above = row[j];
                    var cost = ca == sb[j - 1] ? 0 : 1;
                    var value = Math.Min(Math.Min(above + 1, left + 1), Math.Min(diagonal + cost, over));
                    row[j] = value;
                    diagonal = above;
                    left = value;
                    if (value < best) best = value;
                }
                if (best > limit) return null;
            }
            return row[sb.Length] <= limit ? row[sb.Length] : null;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
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
