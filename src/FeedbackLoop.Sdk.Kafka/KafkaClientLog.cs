using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Kafka;

/// <summary>
/// librdkafka's own log and error lines, through the app's <see cref="ILogger"/> instead of stderr, each naming the
/// brokers, at most <see cref="KafkaFeedbackTransport.MaxClientLogLinesPerMinute"/> a minute: an unreachable broker makes
/// librdkafka repeat itself several times a second, which would bury the app's own log. Lines over the limit are
/// counted, and the count is logged with the next line let through.
/// </summary>
internal sealed partial class KafkaClientLog(ILogger logger, string brokers, int maxPerMinute)
{
    private static readonly long Minute = TimeSpan.FromMinutes(1).Ticks / TimeSpan.TicksPerMillisecond;
    private readonly Lock _gate = new();
    private long _windowStart = long.MinValue;
    private int _inWindow;
    private long _skipped;

    public void OnLog(LogMessage message) => Write(LevelOf(message.Level), message.Facility, message.Message);

    public void OnError(Error error) => Write(error.IsFatal ? LogLevel.Error : LogLevel.Warning, error.Code.ToString(), error.Reason);

    private void Write(LogLevel level, string facility, string text)
    {
        if (!logger.IsEnabled(level)) return;
        long skipped;
        lock (_gate)
        {
            var now = Environment.TickCount64;
            if (now - _windowStart >= Minute) (_windowStart, _inWindow) = (now, 0);
            if (++_inWindow > maxPerMinute)
            {
                _skipped++;
                return;
            }
            (skipped, _skipped) = (_skipped, 0);
        }
        // librdkafka's lines carry broker addresses, topic names and error codes, never record contents.
        if (skipped > 0) ClientLine(logger, level, brokers, facility, $"{text} ({skipped} earlier lines left out, at most {maxPerMinute} a minute)");
        else ClientLine(logger, level, brokers, facility, text);
    }

    private static LogLevel LevelOf(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    [LoggerMessage(EventId = 50, Message = "Kafka client ({Brokers}) {Facility}: {Text}")]
    private static partial void ClientLine(ILogger logger, LogLevel level, string brokers, string facility, string text);
}
