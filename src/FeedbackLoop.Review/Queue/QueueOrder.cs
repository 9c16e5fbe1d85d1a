using System.Security.Cryptography;
using System.Text;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Datasets.Review;

namespace FeedbackLoop.Review.Queue;

/// <summary>How a queue is sampled: which pairs it holds and in which order.</summary>
public static class QueueSampling
{
    /// <summary>Every pair, in an order fixed by a seed, so next and previous are stable while the seed stays.</summary>
    public const string Random = "random";

    /// <summary>Only the pairs of one signal, oldest first.</summary>
    public const string BySignal = "signal";

    public static IReadOnlyList<string> All { get; } = [Random, BySignal];
}

/// <summary>
/// The queue, a pure function of the pairs, their review states, the sampling, the seed and the signal. "To review"
/// holds the unreviewed pairs only, so a decision takes its pair out and the next one slides into its place; "all"
/// keeps every pair in place, for going back over decisions.
/// </summary>
public static class QueueOrder
{
    public static IReadOnlyList<PreferencePair> Of(AppPairs data, string sampling, int seed, string? signal, bool toReviewOnly)
    {
        IEnumerable<PreferencePair> pairs = data.Pairs;
        if (sampling == QueueSampling.BySignal && signal is not null) pairs = pairs.Where(p => p.Signal == signal);
        if (toReviewOnly) pairs = pairs.Where(p => data.StateOf(p.PairId).Action == ReviewActions.None);
        return sampling == QueueSampling.Random
            ? [.. pairs.OrderBy(p => RandomKey(seed, p.PairId), StringComparer.Ordinal)]
            : [.. pairs.OrderBy(p => p.CreatedAt).ThenBy(p => p.PairId, StringComparer.Ordinal)];
    }

    /// <summary>A pseudo-random but reproducible key per pair: the seed and the id hashed.</summary>
    private static string RandomKey(int seed, string pairId) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(seed.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + pairId)).AsSpan(0, 8));
}
