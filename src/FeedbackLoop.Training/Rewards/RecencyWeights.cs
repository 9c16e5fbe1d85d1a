namespace FeedbackLoop.Training.Rewards;

/// <summary>
/// How much a training row counts by its age: 2^(−age / half-life), where age is measured back from the newest row of
/// the same training set, so the newest row counts fully and the weights do not depend on when training runs (a
/// retrain of the same snapshot gives the same model). Without a half-life every row counts 1.
/// </summary>
internal sealed class RecencyWeights
{
    private static readonly RecencyWeights None = new(null, default);

    private readonly TimeSpan? _halfLife;
    private readonly DateTimeOffset _newest;

    private RecencyWeights(TimeSpan? halfLife, DateTimeOffset newest)
    {
        _halfLife = halfLife;
        _newest = newest;
    }

    /// <summary>The weights for a training set whose rows have the given event times.</summary>
    public static RecencyWeights Of(TimeSpan? halfLife, IEnumerable<DateTimeOffset> eventTimes)
    {
        if (halfLife is null) return None;
        var newest = DateTimeOffset.MinValue;
        foreach (var at in eventTimes)
        {
            if (at > newest) newest = at;
        }
        return new RecencyWeights(halfLife, newest);
    }

    /// <summary>The weight of a row that happened at <paramref name="eventTime"/>: in [0, 1] (0 only where 2^−age underflows, hundreds of half-lives back), 1 for the newest row.</summary>
    public double Of(DateTimeOffset eventTime)
    {
        if (_halfLife is not { } halfLife) return 1;
        // A row stamped after the newest cannot exist in one set; clamp so a weight never exceeds 1.
        var age = Math.Max(0, (_newest - eventTime).Ticks);
        return Math.Pow(2, -(double)age / halfLife.Ticks);
    }
}
