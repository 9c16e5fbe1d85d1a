namespace FeedbackLoop.Core.Tuning;

/// <summary>When an app has gathered enough new preference data to be worth a tuning run.</summary>
public static class RetrainPolicy
{
    /// <summary>True when the committed pairs exceed those of the last run by at least <paramref name="minNewPairs"/>.</summary>
    public static bool ShouldRetrain(long committedPairs, long pairsAtLastRun, int minNewPairs) =>
        committedPairs - pairsAtLastRun >= minNewPairs;

    /// <summary>
    /// A run id derived from the snapshot size: the same trigger delivered twice names the same run, so
    /// at-least-once delivery cannot start two runs for the same data.
    /// </summary>
    public static string RunId(string appId, long committedPairs) =>
        FormattableString.Invariant($"{appId}-run-{committedPairs:D9}");

    /// <summary>The candidate version a run registers.</summary>
    public static string CandidateVersion(string appId, long committedPairs) =>
        FormattableString.Invariant($"{appId}-m{committedPairs}");
}
