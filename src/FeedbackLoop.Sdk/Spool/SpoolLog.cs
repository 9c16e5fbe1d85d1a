using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.Spool;

/// <summary>The spool's log lines. They name segments, offsets, counts and sizes, never event content.</summary>
internal static partial class SpoolLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "FeedbackLoop spool: found {Segments} segment(s) of {Bytes} bytes from an earlier run; delivering them")]
    public static partial void Recovered(ILogger logger, int segments, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: the delivery cursor is damaged; spooled events are delivered from the oldest segment on, so some may arrive twice (downstream deduplicates by event_id)")]
    public static partial void CursorUnreadable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: full ({Bytes} of {MaxBytes} bytes); new events are dropped and counted until delivery frees space")]
    public static partial void Full(ILogger logger, long bytes, long maxBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "FeedbackLoop spool: has room again ({Bytes} of {MaxBytes} bytes)")]
    public static partial void HasRoom(ILogger logger, long bytes, long maxBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: refused {Count} event(s) whose ids or JSON exceed the record format's limits")]
    public static partial void Unrecordable(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop spool: could not write a batch of {Count} events; none of them was spooled")]
    public static partial void WriteFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: delivering {Count} spooled events failed (failure {Failures} in a row, retryable: {Retryable}); trying again in {Delay}")]
    public static partial void DeliveryFailed(ILogger logger, int count, int failures, bool retryable, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: skipped a record that failed its checksum (segment {Segment}, offset {Offset}); it is not sent")]
    public static partial void CorruptRecord(ILogger logger, long segment, long offset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: skipped a record whose MAC does not verify under the spool's key (segment {Segment}, offset {Offset}): the spool did not write it, or it was altered; it is not sent")]
    public static partial void ForgedRecord(ILogger logger, long segment, long offset);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop spool: segment {Segment} was replaced by a symbolic link or another non-file; nothing behind it is read or sent")]
    public static partial void SegmentNotPlain(ILogger logger, long segment);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: skipped {Bytes} damaged bytes of segment {Segment} from offset {Offset} ({Reason}); nothing in them is sent")]
    public static partial void DamagedTail(ILogger logger, long bytes, long segment, long offset, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop spool: segment {Segment} ({Bytes} bytes) disappeared before it was delivered")]
    public static partial void SegmentLost(ILogger logger, long segment, long bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "FeedbackLoop spool: the delivery pump failed; it starts again from the last settled record in {Delay}")]
    public static partial void PumpFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: could not record delivery progress; after a restart the last batch may be sent again")]
    public static partial void CursorWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: could not delete delivered segment {Segment}")]
    public static partial void DeleteFailed(ILogger logger, long segment, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FeedbackLoop spool: the delivery pump did not stop within {Grace}; the transport ignored cancellation")]
    public static partial void PumpDidNotStop(ILogger logger, TimeSpan grace);
}
