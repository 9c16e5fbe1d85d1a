using Cronos;

namespace FeedbackLoop.Orchestration.Trigger;

/// <summary>
/// A pipeline's retrain schedule: a five-field cron expression (minute hour day-of-month month day-of-week) read in a
/// time zone (UTC unless the pipeline names one). Cronos parses it and finds occurrences, across daylight-saving changes.
/// The trigger decision (Core's TriggerPolicy) reads only <see cref="LastDue"/>: the latest occurrence it has not served.
/// </summary>
public sealed class RetrainSchedule
{
    private readonly CronExpression _cron;
    private readonly TimeZoneInfo _zone;

    private RetrainSchedule(string expression, CronExpression cron, TimeZoneInfo zone)
    {
        Expression = expression;
        _cron = cron;
        _zone = zone;
    }

    /// <summary>The expression as written.</summary>
    public string Expression { get; }

    /// <summary>Parses <paramref name="expression"/>; a bad one is refused with the reason, quoting it.</summary>
    /// <exception cref="FormatException">Not a five-field cron expression.</exception>
    public static RetrainSchedule Parse(string expression, TimeZoneInfo? zone = null)
    {
        ArgumentNullException.ThrowIfNull(expression);
        try
        {
            return new RetrainSchedule(expression, CronExpression.Parse(expression, CronFormat.Standard), zone ?? TimeZoneInfo.Utc);
        }
        catch (CronFormatException e)
        {
            throw new FormatException($"retrain schedule '{expression}' is not a cron expression (minute hour day-of-month month day-of-week): {e.Message}", e);
        }
    }

    /// <summary>
    /// The latest occurrence after <paramref name="since"/> (the last run's start; null: the schedule's first look, which
    /// serves nothing from the past) and at or before <paramref name="now"/>; null when none fell due. Occurrences missed
    /// while the orchestrator was down collapse into one run, not one run each.
    /// </summary>
    public DateTimeOffset? LastDue(DateTimeOffset? since, DateTimeOffset now)
    {
        if (since is not { } from) return null;
        DateTimeOffset? last = null;
        // Walk forward from the last run; bounded so that a minutely schedule after a long outage costs at most this many steps.
        var next = _cron.GetNextOccurrence(from, _zone);
        for (var steps = 0; next is { } at && at <= now && steps < MaxStepsPerLook; steps++)
        {
            last = at;
            next = _cron.GetNextOccurrence(at, _zone);
        }
        // Past the bound the occurrences are still due: the newest before now stands for them all.
        return next is { } pending && pending <= now ? LatestBefore(now) : last;
    }

    /// <summary>How many occurrences one look walks before it jumps to the newest (a minutely schedule and a week's outage: 10,080).</summary>
    internal const int MaxStepsPerLook = 100_000;

    private DateTimeOffset? LatestBefore(DateTimeOffset now)
    {
        // Cronos finds only next occurrences: search back in widening windows for one at or before now.
        for (var window = TimeSpan.FromMinutes(1); window < TimeSpan.FromDays(3660); window *= 2)
        {
            DateTimeOffset? found = null;
            foreach (var at in _cron.GetOccurrences(now - window, now, _zone, fromInclusive: true, toInclusive: true)) found = at;
            if (found is not null) return found;
        }
        return null;
    }
}
