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
}
