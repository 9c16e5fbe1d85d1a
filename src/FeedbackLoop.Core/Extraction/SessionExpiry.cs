namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// When a session times out (docs/contract/rules.md, "Sessions"). Pure, so the decision is a table: the caller
/// passes the clock of the session's own app on its partition, never another app's (issue 10, finding 3).
/// </summary>
public static class SessionExpiry
{
    /// <summary>
    /// True when <paramref name="appWatermark"/> is more than <paramref name="timeout"/> past the session's latest
    /// event. Saturating: any two event times and any timeout give an answer, never an overflow.
    /// </summary>
    public static bool IsExpired(DateTimeOffset appWatermark, DateTimeOffset lastEventAt, TimeSpan timeout) =>
        appWatermark > SaturatingTime.Add(lastEventAt, timeout);

    /// <summary>
    /// True when records went on arriving on the partition for more than <paramref name="timeout"/> of record time
    /// (<paramref name="recordClock"/>: the latest record timestamp read there, each bounded by the extractor's clock)
    /// after the session's latest record. The liveness bound of per-app clocks: an app that goes quiet moves no clock
    /// of its own, and without it its open sessions would hold the partition's commit until it spoke again. No sender
    /// can move record time past the extractor's clock, so it cannot cut a live session short; a backfill's records
    /// arrive now, whatever their event time. False when the session's records carried no timestamp.
    /// </summary>
    public static bool IsIdle(DateTimeOffset recordClock, DateTimeOffset? lastRecordAt, TimeSpan timeout) =>
        lastRecordAt is { } last && recordClock > SaturatingTime.Add(last, timeout);
}
