using FeedbackLoop.Kafka.Extraction;

namespace FeedbackLoop.IntegrationTests;

/// <summary>When an <c>--until-idle</c> run stops: only at the end of every partition, or after long silence.</summary>
public sealed class IdleStopTests
{
    [Theory]
    // Not quiet long enough: keep reading, at the end or not.
    [InlineData(4.9, 5, true, IdleVerdict.Continue)]
    [InlineData(0, 5, false, IdleVerdict.Continue)]
    // Quiet and every partition at its end: done.
    [InlineData(5, 5, true, IdleVerdict.Stop)]
    [InlineData(60, 5, true, IdleVerdict.Stop)]
    // Quiet but a partition still has records to fetch (a slow fetch on a busy machine): keep reading.
    [InlineData(5, 5, false, IdleVerdict.Continue)]
    [InlineData(49.9, 5, false, IdleVerdict.Continue)]
    // Ten idle times with a partition that never reports its end: stop rather than hang, and say so.
    [InlineData(50, 5, false, IdleVerdict.StopNotAtEnd)]
    // ...but never sooner than 30 s, so a short idle time does not turn a slow fetch into an early stop.
    [InlineData(29.9, 1, false, IdleVerdict.Continue)]
    [InlineData(30, 1, false, IdleVerdict.StopNotAtEnd)]
    public void Decides(double quietSeconds, double idleSeconds, bool everyPartitionAtEnd, IdleVerdict expected) =>
        Assert.Equal(expected, IdleStop.Decide(TimeSpan.FromSeconds(quietSeconds), TimeSpan.FromSeconds(idleSeconds), everyPartitionAtEnd));
}
