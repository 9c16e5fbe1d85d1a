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
