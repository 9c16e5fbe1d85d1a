namespace FeedbackLoop.Kafka.Extraction;

/// <summary>What an <c>--until-idle</c> run does after a quiet spell.</summary>
public enum IdleVerdict
{
    /// <summary>Keep reading.</summary>
    Continue,

    /// <summary>Every assigned partition is at its end and nothing arrived for the idle time: done.</summary>
    Stop,

    /// <summary>
    /// Nothing arrived for <see cref="IdleStop.GiveUpFactor"/> idle times although some partition never reported its
    /// end (a broker that stopped answering fetches): stop rather than hang, and say which partitions.
    /// </summary>
    StopNotAtEnd,
}

/// <summary>
/// When an <c>--until-idle</c> run stops. A quiet spell alone is not enough: on a busy machine a fetch can take longer
/// than the idle time while records are still waiting, and a run that stopped then would leave them unread. So the run
/// stops only once every assigned partition has reported its end (no record after that) and the idle time has passed;
/// a partition that never reports its end ends the run after <see cref="GiveUpFactor"/> idle times (at least
/// <see cref="GiveUpFloor"/>), so an unanswering broker cannot hold it forever.
/// </summary>
public static class IdleStop
{
    public const int GiveUpFactor = 10;

    public static readonly TimeSpan GiveUpFloor = TimeSpan.FromSeconds(30);

    public static IdleVerdict Decide(TimeSpan quietFor, TimeSpan idle, bool everyPartitionAtEnd)
    {
        if (quietFor < idle) return IdleVerdict.Continue;
        if (everyPartitionAtEnd) return IdleVerdict.Stop;
        var giveUp = idle * GiveUpFactor;
        return quietFor >= (giveUp > GiveUpFloor ? giveUp : GiveUpFloor) ? IdleVerdict.StopNotAtEnd : IdleVerdict.Continue;
    }
}
