using System.IO.Hashing;
using System.Text;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Sampling;

/// <summary>
/// Keeps a share of sessions, deterministically by <c>session_id</c>: a session's position in [0, 1) is
/// the XxHash3 of its UTF-8 id, and an event is kept when that position is below its type's rate. All
/// events of a session share one position, so a session is kept or dropped whole for each type, and a
/// lower rate keeps a subset of the sessions a higher one keeps (a kept thumb's generation was also kept
/// when shown events have the higher rate). Any process, in any language, can repeat the decision.
/// </summary>
public sealed class SessionSampler
{
    private readonly double _defaultRate;
    private readonly Dictionary<string, double> _byType;

    /// <summary>Creates a sampler; rates are shares in [0, 1].</summary>
    public SessionSampler(double defaultRate, IReadOnlyDictionary<string, double>? byEventType = null)
    {
        Check(defaultRate, "Sampling.Rate");
        _defaultRate = defaultRate;
        _byType = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (type, rate) in byEventType ?? new Dictionary<string, double>())
        {
            if (!EventTypes.All.Contains(type)) throw new ArgumentException($"Sampling.ByEventType: unknown event type '{type}' (known: {string.Join(", ", EventTypes.All)})", nameof(byEventType));
            Check(rate, "Sampling.ByEventType:" + type);
            _byType[type] = rate;
        }
    }

    /// <summary>True when nothing is ever sampled out (the client then skips hashing).</summary>
    public bool KeepsEverything => _defaultRate >= 1.0 && _byType.Values.All(r => r >= 1.0);

    /// <summary>The rate that applies to <paramref name="eventType"/>.</summary>
    public double RateOf(string eventType) => _byType.TryGetValue(eventType, out var rate) ? rate : _defaultRate;

    /// <summary>Whether an event of <paramref name="eventType"/> in <paramref name="sessionId"/> is kept.</summary>
    public bool Keep(string eventType, string sessionId)
    {
        var rate = RateOf(eventType);
        return rate >= 1.0 || (rate > 0.0 && Position(sessionId) < rate);
    }

    /// <summary>The session's fixed position in [0, 1): the top 53 bits of XxHash3-64 (seed 0) of its UTF-8 bytes.</summary>
    public static double Position(string sessionId)
    {
        var max = Encoding.UTF8.GetMaxByteCount(sessionId.Length);
        var buffer = max <= 512 ? stackalloc byte[512] : new byte[max];
        var length = Encoding.UTF8.GetBytes(sessionId, buffer);
        var hash = XxHash3.HashToUInt64(buffer[..length]);
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    private static void Check(double rate, string name)
    {
        if (double.IsNaN(rate) || rate < 0 || rate > 1) throw new ArgumentOutOfRangeException(name, rate, "must be between 0 and 1");
    }
}
