using System.Diagnostics.Metrics;
using Confluent.Kafka;
using FeedbackLoop.Contracts;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>How the extractor consumes, flushes and stops. Defaults suit the embedded mode.</summary>
public sealed record ExtractionLoopOptions
{
    /// <summary>Kafka bootstrap servers, <c>host:port,...</c>.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The operator's librdkafka properties (TLS, SASL, tuning), added to every client the loop builds.</summary>
    public KafkaClientProperties KafkaProperties { get; init; } = KafkaClientProperties.None;

    /// <summary>Folder for the per-partition progress marks (see <see cref="ProgressMarks"/>).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The consumer group; every extractor instance of one deployment shares it.</summary>
    public string GroupId { get; init; } = "feedbackloop-extractors";

    /// <summary>The topic to read.</summary>
    public string Topic { get; init; } = KafkaTopics.Events;

    /// <summary>Where invalid records go.</summary>
    public string DeadLetterTopic { get; init; } = KafkaTopics.DeadLetters;

    /// <summary>Rows are written at least this often while events flow; offsets are committed with the checkpoints taken at
    /// flushes (<see cref="CheckpointInterval"/>). Each flush adds a file per (app, kind) that got rows. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Also flush once this many events were read since the last flush (bounds memory and replay).</summary>
    public int MaxEventsPerFlush { get; init; } = 250_000;

    /// <summary>
    /// When set, stop once every assigned partition reached its end, nothing new arrived for this long and everything
    /// read is committed (see <see cref="IdleStop"/> for a partition that never reaches its end).
    /// </summary>
    public TimeSpan? UntilIdle { get; init; }

    /// <summary>
    /// How long the group waits for a silent member before reassigning its partitions. librdkafka's
    /// in-process cluster does not act on a closing member's leave request, so a restarted extractor waits
    /// about this long for its partitions; 6 s is the smallest value a default Kafka broker accepts.
    /// </summary>
    public TimeSpan ConsumerSessionTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// Called on the consume thread after a write is durable and its offsets are committed, e.g. to publish
    /// DatasetCommitted. Keep it short: the loop waits for it. The result's
    /// <see cref="ExtractionWriteResult.TraceParent"/> names the commit's span; pass it on in the message
    /// (<c>new DatasetCommitted(app, pairs, written.TraceParent)</c>) so the run it triggers joins the trace.
    /// </summary>
    public Action<ExtractionWriteResult>? Committed { get; init; }

    /// <summary>
    /// Which of several loops in one process this is (<c>extract --consumers</c>, counted from 1), or null when it runs alone.
    /// It names the loop's Kafka clients and tags its metrics (<c>consumer</c>), so the loops' series add up.
    /// </summary>
    public int? Consumer { get; init; }

    /// <summary>
    /// Called on the loop's thread right before it subscribes. Several loops of one process wait there for each other
    /// (<c>extract --consumers</c>), so they join the group together: one that joined alone would take every partition,
    /// start reading, and give half of them up at once when the next one joins.
    /// </summary>
    public Action? BeforeSubscribe { get; init; }

    /// <summary>
    /// Creates the <c>FeedbackLoop.Extraction</c> meter (dependency injection's, so a host's listeners and
    /// scoping apply); when null the loop creates the meter itself. The loop adds its instruments when its run
    /// starts and disposes the meter when the run ends. A factory hands out one cached meter per name, so
    /// loops that run side by side in one process share one only when each has its own <see cref="Consumer"/>, which
    /// is part of the meter's identity.
    /// </summary>
    public IMeterFactory? MeterFactory { get; init; }

    /// <summary>
    /// The extractor's clock. Event-time checks prefer each record's Kafka timestamp and use the clock only as
    /// the upper bound of that reference (see <see cref="EventTimeCheck.Reference"/>); injectable for tests.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The rules and their limits.</summary>
    public ExtractionSettings Settings { get; init; } = new();

    /// <summary>
    /// Which apps are registered (the pipeline's <c>apps:</c>). Events of any other app are still extracted, but each
    /// such app id is logged once and counted (<see cref="ExtractionLoop.UnregisteredApps"/>, metric
    /// <c>feedbackloop.extraction.unregistered_app_events</c>); null: no check (a caller that trains nothing).
    /// </summary>
    public Func<string, bool>? IsRegisteredApp { get; init; }

    /// <summary>The most distinct unregistered app ids named in logs and the summary; more are only counted. Default 100.</summary>
    public int MaxUnregisteredAppsReported { get; init; } = 100;

    /// <summary>
    /// The most records of the dead-letter topic one partition assignment reads to find dead letters already sent for its
    /// replay window (ADR 0012). Past it the rest of the window's dead letters may be sent again (counted as
    /// <c>feedbackloop.extraction.dead_letter_scan_limit_hits</c>, and logged). The read usually stops long before: at the
    /// first dead letter from before each partition's window.
    /// </summary>
    public long DeadLetterScanLimit { get; init; } = 100_000;

    /// <summary>
    /// The most records parsed ahead on a second thread while the loop applies the ones before them (see
    /// <see cref="RecordReadAhead"/>): at most twice this many records are held besides the client's own fetch queue.
    /// 1 or less parses each record on the loop's thread as it is applied. Default 512.
    /// </summary>
    public int ReadAheadRecords { get; init; } = 512;

    /// <summary>
    /// The most bytes (keys and values as read) one read-ahead batch collects: a batch ends at whichever of
    /// <see cref="ReadAheadRecords"/> and this comes first, after at least one record. Records can be up to the topic's
    /// message size, so a count alone would let 512 large ones hold hundreds of MB; two batches of this size (and their
    /// parsed events, about twice as large again) are what read-ahead holds at most. Default 4 MiB.
    /// </summary>
    public long ReadAheadBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>
    /// Checkpoint each partition's state and commit its offset at least this often while events flow (ADR 0014). Rows are
    /// still written every <see cref="FlushInterval"/>; the commit, which needs a checkpoint of every open session, follows
    /// less often. Default 10 s.
    /// </summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Also checkpoint and commit once this many records were read since the last checkpoint: a restart after a crash
    /// re-reads at most this many records (over all partitions of the instance). The checkpoint is written before reading
    /// goes on. Default 100,000.
    /// </summary>
    public long CheckpointMaxRecords { get; init; } = 100_000;
    /// <summary>
    /// How long the client waits before it fetches a partition again once its local queue of fetched records is full
    /// (librdkafka's <c>fetch.queue.backoff.ms</c>; the queue is full at <c>queued.min.messages</c>, 100,000 records, or
    /// <c>queued.max.messages.kbytes</c>, 64 MiB, counted over all partitions of the consumer). librdkafka's default, 1 s,
    /// leaves a consumer that drains the queue faster than that idle for the rest of the second: the bench's raw consumer
    /// spent most of its time waiting. The check it repeats is local (no request goes to the broker while the queue is
    /// full), so a short wait costs a timer wake-up, not a fetch. Default 10 ms.
    /// </summary>
    public TimeSpan FetchQueueBackoff { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The longest a broker holds a Fetch request that found nothing new to return (librdkafka's <c>fetch.wait.max.ms</c>,
    /// 500 ms by default). The client keeps one Fetch in flight per broker, so while one waits on partitions that are read
    /// to their end, the broker's other partitions wait behind it, among them those the client left out of that request
    /// because its queue was full (<see cref="FetchQueueBackoff"/>). With 500 ms some of the bench's extraction runs stood
    /// still for 200–425 ms, one of them in the middle of reading (ADR 0047). A shorter wait costs a consumer that has nothing to read one
    /// empty Fetch per broker per interval. Default 100 ms.
    /// </summary>
    public TimeSpan FetchMaxWait { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws unless both fetch settings are in librdkafka's range for them, 0 to 5 minutes; the loop checks when it is built.</summary>
    internal void CheckFetchSettings()
    {
        foreach (var (value, name) in new[] { (FetchQueueBackoff, nameof(FetchQueueBackoff)), (FetchMaxWait, nameof(FetchMaxWait)) })
        {
            if (value < TimeSpan.Zero || value > TimeSpan.FromMinutes(5))
                throw new ArgumentOutOfRangeException(name, value, "librdkafka takes 0 to 5 minutes for fetch.queue.backoff.ms and fetch.wait.max.ms");
        }
    }

    /// <summary>
    /// Sets the fetch settings of these options on a consumer's configuration. The extractor's consumer uses it, and so
    /// does any consumer that must read the way the extractor does (the bench's raw consumer).
    /// </summary>
    public void ApplyFetchSettings(ConsumerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.FetchQueueBackoffMs = (int)FetchQueueBackoff.TotalMilliseconds;
        config.FetchWaitMaxMs = (int)FetchMaxWait.TotalMilliseconds;
        // The consumer reads one topic, so the client need not copy its name into a new string for every record
        // (ConsumeResult.Topic stays null; the loop names the topic from its options). Headers carry trace context and the
        // timestamp bounds event time, so both are still read.
        config.ConsumeResultFields = "headers,timestamp";
    }
}
